/**
 * Bounds the TCP connections a server holds, in all and per source address, so that idle or
 * half-open connections (slowloris) cannot lock legitimate clients out. When a bound is reached,
 * the oldest connection that is not serving a request makes room (one that never completed a
 * request head first); only when every connection is busy is the newcomer turned away.
 */
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  maxConnections: number;
  maxPerAddress: number;
}

interface Tracked {
  address: string;
  /** Requests being answered on this connection right now. */
  active: number;
  /** Requests whose head arrived on this connection so far. */
  started: number;
}

export type Admission = 'admitted' | 'refused';

export class ConnectionLimiter {
  /** In order of arrival, so the first match of a scan is the oldest. */
  private readonly sockets = new Map<Socket, Tracked>();
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits) {}

  get size(): number {
    return this.sockets.size;
  }

  /**
   * Accounts for a new connection, closing an older idle one if a bound requires it. A refused
   * socket is destroyed here.
   */
  admit(socket: Socket, address: string): Admission {
    if ((this.perAddress.get(address) ?? 0) >= this.limits.maxPerAddress) {
      if (!this.evictIdle((tracked) => tracked.address === address)) return refuse(socket);
    }
    if (this.sockets.size >= this.limits.maxConnections) {
      if (!this.evictIdle(() => true)) return refuse(socket);
    }
    this.sockets.set(socket, { address, active: 0, started: 0 });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    socket.once('close', () => this.forget(socket));
    return 'admitted';
  }

  requestStarted(socket: Socket): void {
    const tracked = this.sockets.get(socket);
    if (tracked === undefined) return;
    tracked.active += 1;
    tracked.started += 1;
  }

  requestEnded(socket: Socket): void {
    const tracked = this.sockets.get(socket);
    if (tracked !== undefined && tracked.active > 0) tracked.active -= 1;
  }

  /** Closes the oldest matching connection that serves nothing; false when there is none. */
  private evictIdle(matches: (tracked: Tracked) => boolean): boolean {
    const victim =
      this.oldest((tracked) => matches(tracked) && tracked.started === 0) ??
      this.oldest((tracked) => matches(tracked) && tracked.active === 0);
    if (victim === undefined) return false;
    // Forget it now: 'close' comes later, and the newcomer needs the room at once.
    this.forget(victim);
    victim.destroy();
    return true;
  }

  private oldest(matches: (tracked: Tracked) => boolean): Socket | undefined {
    for (const [socket, tracked] of this.sockets) if (matches(tracked)) return socket;
    return undefined;
  }

  private forget(socket: Socket): void {
    const tracked = this.sockets.get(socket);
    if (tracked === undefined) return;
    this.sockets.delete(socket);
    const remaining = (this.perAddress.get(tracked.address) ?? 1) - 1;
    if (remaining > 0) this.perAddress.set(tracked.address, remaining);
    else this.perAddress.delete(tracked.address);
  }
}

function refuse(socket: Socket): Admission {
  socket.destroy();
  return 'refused';
}
