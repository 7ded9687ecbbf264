/**
 * How this client appears to peers. The id is stable for one machine, user and swarm, so a
 * peer operator's "always for this client" outlives one download; it reveals nothing, being a
 * hash, and peers bind consents to the client's address too.
 */
import { createHash } from 'node:crypto';
import { hostname, userInfo } from 'node:os';

/** The wire allows names of 1-64 characters without control characters. */
const MAX_NAME_CHARS = 64;

export function clientIdFor(secret: string, host = hostname(), user = safeUserName()): string {
  return createHash('sha256')
    .update(`ddm-client-v1\0${secret}\0${host}\0${user}`)
    .digest('base64url')
    .slice(0, 22);
}

/** A name the wire accepts: control characters dropped, trimmed, at most 64 characters. */
export function displayName(name: string): string {
  const cleaned = [...name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim()]
    .slice(0, MAX_NAME_CHARS)
    .join('');
  return cleaned === '' ? 'ddm-client' : cleaned;
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '');
  }
}
