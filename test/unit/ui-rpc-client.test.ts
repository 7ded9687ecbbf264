/**
 * The web UI's RPC client (ui/rpc-client.js), run in Node with the `ws` package standing in for
 * the browser's WebSocket: a handshake the daemon never answers is given up and tried again.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { within } from '../helpers/wait.js';

/** `ws`'s socket as a page sees one: a failed handshake is an event, never a thrown error. */
class PageWebSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    this.on('error', () => {});
  }
}
// The module reads the global when it connects, as a page's script does.
(globalThis as { WebSocket?: unknown }).WebSocket = PageWebSocket;
// Plain browser JavaScript, without types: imported by a path the type checker does not follow.
const clientModule = '../../ui/rpc-client.js';
const { RpcClient } = (await import(clientModule)) as {
  RpcClient: new (
    url: string,
  ) => {
    state: string;
    onState(listener: (state: string) => void): () => void;
    call(method: string, params?: unknown[]): Promise<unknown>;
    close(): void;
  };
};

const held = new Set<Socket>();
let upgrades = 0;
const wss = new WebSocketServer({ noServer: true });
wss.on('connection', (ws) => {
  ws.on('message', (text) => {
    const request = JSON.parse(String(text)) as { id: number; method: string };
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: request.id, result: `${request.method} answered` }));
  });
});
// The first handshake is never answered; later ones are.
const server: Server = createServer();
server.on('upgrade', (req, socket, head) => {
  upgrades += 1;
  if (upgrades === 1) {
    held.add(socket as Socket);
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

after(async () => {
  for (const socket of held) socket.destroy();
  for (const client of wss.clients) client.terminate();
  wss.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('the UI RPC client', () => {
  it('gives up a handshake nobody answers and connects on the next try', async () => {
    const client = new RpcClient(`ws://127.0.0.1:${port}/jsonrpc`);
    after(() => client.close());
    const states: string[] = [];
    const opened = new Promise<void>((resolve) =>
      client.onState((state) => {
        states.push(state);
        if (state === 'open') resolve();
      }),
    );
    await within(opened, 15_000, 'the client connects after the unanswered handshake');
    assert.equal(upgrades, 2);
    assert.deepEqual(states.slice(0, 3), ['closed', 'connecting', 'open']);
    assert.equal(await client.call('ddm.tellAll'), 'ddm.tellAll answered');
  });
});
