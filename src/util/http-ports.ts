/**
 * The port deny list: a peer speaks HTTP, so it never dials a port where another protocol
 * (mail, SSH, databases, caches) would read its request as commands.
 */
import { FORBIDDEN_PORTS } from '../constants.js';

const FORBIDDEN = new Set(FORBIDDEN_PORTS);

/** The port a URL or connect target really uses: an empty port means the scheme's default. */
export function effectivePort(protocol: string, port: string | number): number {
  if (port !== '') return Number(port);
  return protocol === 'https:' ? 443 : 80;
}

export function isForbiddenPort(port: number): boolean {
  return FORBIDDEN.has(port) || !Number.isInteger(port) || port < 0 || port > 65_535;
}
