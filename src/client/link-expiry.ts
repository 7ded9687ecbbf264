/**
 * A signed URL (cloud storage, CDN, download portal) stops working after a while: the origin
 * then answers 401, 403 or 410 where it served the file before. Once a link has served this
 * download, such an answer means "give me a new link", not "this file is not yours": the
 * download keeps every byte and waits for one (engine/download-handle.ts). On the very first
 * request the same answer stays an HTTP_STATUS error, since nothing shows the link ever worked.
 */
import { DdmError, isDdmError } from '../errors.js';

/** The statuses a signed link answers once its time is up (or its token was revoked). */
export const EXPIRED_LINK_STATUSES: readonly number[] = [401, 403, 410];

/**
 * Whether `error` is the origin refusing a link with one of those statuses, fetched by us or
 * by a peer (a peer's signed error answer keeps the origin's `details.status`).
 */
export function isExpiredAnswer(error: unknown): error is DdmError {
  if (!isDdmError(error, 'HTTP_STATUS')) return false;
  const status = error.details.status;
  return typeof status === 'number' && EXPIRED_LINK_STATUSES.includes(status);
}

/** The error a download ends with when its link expired and no new one can be had. */
export function linkExpiredError(cause: DdmError): DdmError {
  const status = cause.details.status;
  const where = typeof cause.details.url === 'string' ? cause.details.url : 'the origin';
  return new DdmError(
    'LINK_EXPIRED',
    `the link expired: ${where} answered ${String(status)} after it had served this download; every byte so far is kept, give a new link to the same file to go on`,
    { cause, details: { status, url: where } },
  );
}
