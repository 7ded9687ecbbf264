/**
 * The token in a download's preview address: an HMAC of its id under a key only this daemon
 * knows (kept in the state directory), so the address is the same for every request and across
 * restarts, and nobody who was not given it can guess it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { PREVIEW_TOKEN_HEX_DIGITS } from '../constants.js';

export interface PreviewTokens {
  tokenFor(gid: string): string;
  /** Whether `token` is the download's; compared in constant time. */
  matches(gid: string, token: string): boolean;
  /** `/preview/<gid>/<token>`: the path a player opens. */
  pathFor(gid: string): string;
}

export function previewTokens(key: string): PreviewTokens {
  const tokenFor = (gid: string) =>
    createHmac('sha256', key).update(`preview:${gid}`).digest('hex').slice(0, PREVIEW_TOKEN_HEX_DIGITS);
  return {
    tokenFor,
    matches: (gid, token) => {
      const expected = Buffer.from(tokenFor(gid));
      const given = Buffer.from(token);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
    pathFor: (gid) => `/preview/${encodeURIComponent(gid)}/${tokenFor(gid)}`,
  };
}
