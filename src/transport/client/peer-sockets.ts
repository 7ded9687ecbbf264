/**
 * The keep-alive connections a client holds to plain-http peers for their byte streams, one pool
 * for every download of the process (as undici's global dispatcher was). Idle connections do not
 * keep the process alive and close after ORIGIN_KEEP_ALIVE_TIMEOUT_MS.
 */
import { plainDialer } from '../../origin/origin-dialer.js';
import { OriginSockets } from '../../origin/origin-sockets.js';

let shared: OriginSockets | undefined;

export function peerSockets(): OriginSockets {
  shared ??= new OriginSockets(plainDialer);
  return shared;
}
