/**
 * The status line and headers of an HTTP/1.x response, as read from an origin's socket by
 * origin-connection.ts. Strict on purpose: anything that is not plain HTTP/1.x (a folded header,
 * a control character, two different lengths) is refused rather than guessed at.
 */
import { DdmError } from '../errors.js';
import type { ResponseHeaders } from './response-headers.js';

export interface ResponseHead {
  statusCode: number;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minorVersion: number;
  /** Names in lower case; a header sent several times is an array, as undici gives it. */
  headers: ResponseHeaders;
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\0-\x08\x0a-\x1f\x7f]*)?$/;
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\0-\x08\x0a-\x1f\x7f]*?)[ \t]*$/;

/** Index just past the blank line that ends a head in `bytes[0, length)`, searching from `from`; -1 if none yet. */
export function headEnd(bytes: Buffer, from: number, length: number): number {
  const at = bytes.subarray(0, length).indexOf(HEAD_END, Math.max(0, from - (HEAD_END.length - 1)));
  return at < 0 ? -1 : at + HEAD_END.length;
}

/** Parses a head (including its final blank line), or throws a retryable BAD_RESPONSE. */
export function parseResponseHead(bytes: Buffer, where: string): ResponseHead {
  const lines = bytes.toString('latin1').split('\r\n');
  const status = STATUS_LINE.exec(lines[0] ?? '');
  if (status === null) throw malformed(where, `status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const header = HEADER_LINE.exec(line);
    if (header === null) throw malformed(where, `header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = header[1]!.toLowerCase();
    const value = header[2]!;
    const earlier = headers[name];
    if (earlier === undefined) headers[name] = value;
    else if (Array.isArray(earlier)) earlier.push(value);
    else headers[name] = [earlier, value];
  }
  const lengths = headers['content-length'];
  if (Array.isArray(lengths) && new Set(lengths.map((value) => value.trim())).size > 1) {
    throw malformed(where, `Content-Length given twice (${lengths.join(', ')})`);
  }
  return { statusCode: Number(status[2]), minorVersion: Number(status[1]), headers };
}

/** The connection may carry another request after this response's body. */
export function keepsAlive(head: ResponseHead): boolean {
  const connection = [head.headers.connection ?? []].flat().join(',').toLowerCase();
  const tokens = connection.split(',').map((token) => token.trim());
  if (tokens.includes('close')) return false;
  return head.minorVersion === 1 || tokens.includes('keep-alive');
}

function malformed(where: string, what: string): DdmError {
  return new DdmError('BAD_RESPONSE', `malformed HTTP response from ${where}: ${what}`, {
    details: { url: where },
    retryable: true,
  });
}
