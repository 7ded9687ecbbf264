/**
 * Bounds the TCP connections a server holds, in all and per source address, so that idle or
 * half-open connections (slowloris) cannot lock legitimate clients out. A connection counts as
 * unauthenticated until a request on it passes the signature check, and those have a budget of
 * their own, in all and per address: strangers (who cannot sign) can never take the room that
 * members' connections need. When a bound is reached, the oldest unauthenticated connection makes
 * room first (even one in the middle of a request: it has proven nothing), then the oldest
 * authenticated one that serves nothing; only when every connection is a member's busy one is
 * the newcomer turned away.
 */
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  maxConnections: number;
  maxPerAddress: number;
  /** Connections that have not yet carried a correctly signed request, in all. */
  maxUnauthenticated: number;
  /** The same, per source address. */
  maxUnauthenticatedPerAddress: number;
}

interface Tracked {
  address: string;
  /** A request on this connection passed the signature check. */
  authenticated: boolean;
  /** Requests being answered on this connection right now. */
  active: number;
  /** Requests whose head arrived on this connection so far. */
  started: number;
}

export type Admission = 'admitted' | 'refused';

type Match = (tracked: Tracked) => boolean;

export class ConnectionLimiter {
  /** In order of arrival, so the first match of a scan is the oldest. */
  private readonly sockets = new Map<Socket, Tracked>();
  private readonly perAddress = new Map<string, number>();
  private readonly unauthenticatedPerAddress = new Map<string, number>();
  private unauthenticated = 0;

  constructor(private readonly limits: ConnectionLimits) {}

  get size(): number {
    return this.sockets.size;
  }

  /**
   * Accounts for a new connection, closing older ones if a bound requires it. A refused socket
   * is destroyed here.
   */
  admit(socket: Socket, address: string): Admission {
    const fromAddress: Match = (tracked) => tracked.address === address;
    const anyone: Match = () => true;
    const limits = this.limits;
    if ((this.unauthenticatedPerAddress.get(address) ?? 0) >= limits.maxUnauthenticatedPerAddress) {
      this.evictUnauthenticated(fromAddress);
    }
    if ((this.perAddress.get(address) ?? 0) >= limits.maxPerAddress && !this.makeRoom(fromAddress)) {
      return refuse(socket);
    }
    if (this.unauthenticated >= limits.maxUnauthenticated) this.evictUnauthenticated(anyone);
    if (this.sockets.size >= limits.maxConnections && !this.makeRoom(anyone)) return refuse(socket);
    this.sockets.set(socket, { address, authenticated: false, active: 0, started: 0 });
    bump(this.perAddress, address, 1);
    bump(this.unauthenticatedPerAddress, address, 1);
    this.unauthenticated += 1;
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

  /** A request on this connection proved it comes from a member: it leaves the strangers' budget. */
  authenticated(socket: Socket): void {
    const tracked = this.sockets.get(socket);
    if (tracked === undefined || tracked.authenticated) return;
    tracked.authenticated = true;
    bump(this.unauthenticatedPerAddress, tracked.address, -1);
    this.unauthenticated -= 1;
  }

  /** An unauthenticated connection goes first, then a member's idle one; false when none can. */
  private makeRoom(matches: Match): boolean {
    return this.evictUnauthenticated(matches) || this.evict((t) => matches(t) && t.active === 0);
  }

  private evictUnauthenticated(matches: Match): boolean {
    return (
      this.evict((t) => matches(t) && !t.authenticated && t.started === 0) ||
      this.evict((t) => matches(t) && !t.authenticated)
    );
  }

  /** Closes the oldest matching connection; false when there is none. */
  private evict(matches: Match): boolean {
    const victim = this.oldest(matches);
    if (victim === undefined) return false;
    // Forget it now: 'close' comes later, and the newcomer needs the room at once.
    this.forget(victim);
    victim.destroy();
    return true;
  }

  private oldest(matches: Match): Socket | undefined {
    for (const [socket, tracked] of this.sockets) if (matches(tracked)) return socket;
    return undefined;
  }

  private forget(socket: Socket): void {
    const tracked = this.sockets.get(socket);
    if (tracked === undefined) return;
    this.sockets.delete(socket);
    bump(this.perAddress, tracked.address, -1);
    if (!tracked.authenticated) {
      bump(this.unauthenticatedPerAddress, tracked.address, -1);
      this.unauthenticated -= 1;
    }
  }
}

function bump(counts: Map<string, number>, address: string, by: number): void {
  const next = (counts.get(address) ?? 0) + by;
  if (next > 0) counts.set(address, next);
  else counts.delete(address);
}

function refuse(socket: Socket): Admission {
  socket.destroy();
  return 'refused';
}
