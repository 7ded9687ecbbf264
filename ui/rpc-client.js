// JSON-RPC 2.0 over the daemon's WebSocket at /jsonrpc. The browser's session cookie authorises
// the socket, so no token is sent. Calls get numeric ids and a time bound; notifications go to
// listeners by method; a lost socket is reopened with a growing delay, and listeners of 'open'
// run again so the app can subscribe again.

const CALL_TIMEOUT_MS = 30_000;
// A handshake the daemon never answers would leave the page "Connecting…" for good: it is
// given up after this long and tried again, like a lost socket.
const CONNECT_TIMEOUT_MS = 5_000;
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 8_000;

export class RpcError extends Error {
  constructor(code, message, data) {
    super(message);
    this.code = code;
    this.data = data;
  }

  /** The request key an error names (the RPC sends it in data.key, or as "key: ..." in words). */
  get key() {
    if (this.data && typeof this.data.key === 'string') return this.data.key;
    return /^([a-zA-Z]+)\b/.exec(this.message)?.[1];
  }
}

export class RpcClient {
  #url;
  #socket;
  #nextId = 1;
  #pending = new Map();
  #listeners = new Map();
  #stateListeners = new Set();
  #delay = RECONNECT_FIRST_MS;
  #timer;
  #stopped = false;
  state = 'connecting';

  constructor(url) {
    this.#url = url;
    this.#open();
  }

  call(method, params = []) {
    return new Promise((resolve, reject) => {
      if (this.state !== 'open') {
        reject(new RpcError(-32000, 'Not connected to the daemon.'));
        return;
      }
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RpcError(-32000, `The daemon did not answer ${method} in time.`));
      }, CALL_TIMEOUT_MS);
      this.#pending.set(id, { resolve, reject, timer });
      this.#socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  /** Runs `listener(params)` on every notification `method`; returns the unsubscribe function. */
  on(method, listener) {
    if (!this.#listeners.has(method)) this.#listeners.set(method, new Set());
    this.#listeners.get(method).add(listener);
    return () => this.#listeners.get(method).delete(listener);
  }

  /** Closes the socket for good: no reconnecting (a page that is going away, a test). */
  close() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#socket?.close();
  }

  /** Runs `listener(state)` on 'connecting' | 'open' | 'closed'. */
  onState(listener) {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  #setState(state) {
    this.state = state;
    for (const listener of this.#stateListeners) listener(state);
  }

  #open() {
    clearTimeout(this.#timer);
    this.#setState('connecting');
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    const connectTimer = setTimeout(() => socket.close(), CONNECT_TIMEOUT_MS);
    socket.addEventListener('open', () => {
      clearTimeout(connectTimer);
      this.#delay = RECONNECT_FIRST_MS;
      this.#setState('open');
    });
    socket.addEventListener('message', (event) => this.#receive(event.data));
    socket.addEventListener('close', () => {
      clearTimeout(connectTimer);
      if (this.#socket !== socket) return;
      for (const { reject, timer } of this.#pending.values()) {
        clearTimeout(timer);
        reject(new RpcError(-32000, 'The connection to the daemon was lost.'));
      }
      this.#pending.clear();
      this.#setState('closed');
      if (this.#stopped) return;
      this.#timer = setTimeout(() => this.#open(), this.#delay);
      this.#delay = Math.min(this.#delay * 2, RECONNECT_MAX_MS);
    });
  }

  #receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    for (const item of Array.isArray(message) ? message : [message]) this.#dispatch(item);
  }

  #dispatch(message) {
    if (message.id !== undefined && message.id !== null && this.#pending.has(message.id)) {
      const { resolve, reject, timer } = this.#pending.get(message.id);
      clearTimeout(timer);
      this.#pending.delete(message.id);
      if (message.error) reject(new RpcError(message.error.code, message.error.message, message.error.data));
      else resolve(message.result);
      return;
    }
    if (typeof message.method === 'string') {
      for (const listener of this.#listeners.get(message.method) ?? []) listener(message.params ?? []);
    }
  }
}

export function daemonSocketUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/jsonrpc`;
}
