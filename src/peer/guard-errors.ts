/**
 * The refusals of the SSRF guard, all FORBIDDEN_DESTINATION (403 on the wire). They travel
 * back to the client, so they never carry what a name resolved to (that would turn the peer
 * into a probe of its own DNS) nor the credentials of a URL.
 */
import { DdmError } from '../errors.js';

// The refusal reaches the client, whose `ddm get` has no such flag: name the peer's command.
const PERMIT_HINT = 'the peer allows it when started with `ddm peer --allow-private`';

function forbidden(message: string, details: Record<string, string | number>): DdmError {
  return new DdmError('FORBIDDEN_DESTINATION', message, { details });
}

/**
 * An IP address, written in the URL or about to be dialled, that is not public. "Private" is
 * used loosely, as in `--allow-private`: every address that is not public.
 */
export function forbiddenAddress(host: string, address: string, range: string): DdmError {
  return forbidden(`refusing to fetch ${host}: ${address} is a private address, ${range} (${PERMIT_HINT})`, {
    host,
    address,
    range,
  });
}

/** A name that is loopback by definition, or resolves to at least one non-public address. */
export function forbiddenName(
  host: string,
  why: 'loopback name' | 'resolves to a non-public address',
): DdmError {
  const reason =
    why === 'loopback name'
      ? 'it names a private address (loopback by definition)'
      : 'it resolves to a private address';
  return forbidden(`refusing to fetch ${host}: ${reason} (${PERMIT_HINT})`, { host });
}

export function forbiddenScheme(scheme: string): DdmError {
  return forbidden(`refusing to fetch ${scheme} URLs: only http and https`, { scheme });
}

export function forbiddenCredentials(host: string): DdmError {
  return forbidden(`refusing to fetch ${host}: the URL carries credentials, which a peer never sends on`, {
    host,
  });
}

export function forbiddenPort(host: string, port: number): DdmError {
  return forbidden(`refusing to fetch ${host}: port ${port} is on the deny list of non-HTTP services`, {
    host,
    port,
  });
}
