/** The single-stream fallback: the whole resource in one plain GET, for origins without usable ranges. */
import { pipeline, Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { abortError, DdmError, isDdmError } from '../errors.js';
import type { Validators } from '../types/validators.js';
import { exactBody } from './exact-body.js';
import { discardBody, getFollowingRedirects, type OriginResponse } from './follow-redirects.js';
import type { OriginRequestOptions } from './http-client.js';
import { describeUrl } from './origin-url.js';
import { compareVersion, contentEncodings, contentLength, headerValue } from './response-headers.js';
import { errorForStatus } from './status-errors.js';

export interface WholeResponse {
  /** Yields the announced Content-Length exactly, or whatever arrives when none was announced. */
  body: AsyncIterable<Uint8Array>;
  /** Bytes the file will have; null when unknown (chunked, or decoded from a content coding). */
  size: number | null;
  /** The content codings that `body` has been decoded from; empty for a plain body. */
  decodedFrom: string[];
}

export interface WholeExpectation {
  /** The size the probe learned; a plain body of another length is refused. */
  size?: number | null;
}

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

export async function openWhole(
  url: string,
  validators: Validators,
  opts: OriginRequestOptions,
  signal: AbortSignal,
  expect: WholeExpectation = {},
): Promise<WholeResponse> {
  const response = await getFollowingRedirects(url, {}, opts, signal);
  return wholeFromResponse(response, validators, opts, signal, expect);
}

/** Turns a response already received (the probe's own 200) into the single stream. */
export async function wholeFromResponse(
  response: OriginResponse,
  validators: Validators,
  opts: Pick<OriginRequestOptions, 'decodeContent'>,
  signal: AbortSignal,
  expect: WholeExpectation = {},
): Promise<WholeResponse> {
  let encodings: string[];
  let size: number | null;
  try {
    checkWholeResponse(response, validators);
    encodings = contentEncodings(response.headers);
    if (encodings.length > 0) checkDecodable(encodings, response.url, opts.decodeContent ?? false);
    const chunked = /chunked/i.test(headerValue(response.headers, 'transfer-encoding') ?? '');
    size = chunked ? null : contentLength(response.headers);
    const expected = expect.size ?? null;
    if (encodings.length === 0 && expected !== null && size !== null && size !== expected) {
      throw new DdmError(
        'BAD_RESPONSE',
        `origin announced ${size} bytes for ${describeUrl(response.url)}, ${expected} when probed`,
        { details: { url: describeUrl(response.url), size, expected }, retryable: true },
      );
    }
    if (encodings.length === 0 && size === null) size = expected;
  } catch (error) {
    await discardBody(response.body, signal);
    throw error;
  }
  const raw = exactBody(response.body, size, response.url, signal);
  if (encodings.length === 0) return { body: raw, size, decodedFrom: [] };
  return { body: decoded(raw, encodings, response.url, signal), size: null, decodedFrom: encodings };
}

/** Throws ENCODED_RESPONSE unless every coding can be, and may be, decoded. */
export function checkDecodable(encodings: string[], url: URL, decode: boolean): void {
  const where = describeUrl(url);
  const named = encodings.join(', ');
  const details = { url: where, contentEncoding: named };
  const unknown = encodings.filter((encoding) => DECODERS[encoding] === undefined);
  if (unknown.length > 0) {
    throw new DdmError(
      'ENCODED_RESPONSE',
      `origin sends ${where} with Content-Encoding ${named}, which ddm cannot decode (although it asked for identity)`,
      { details },
    );
  }
  if (!decode) {
    throw new DdmError(
      'ENCODED_RESPONSE',
      `origin sends ${where} ${named}-encoded although ddm asked for identity: run again with --compressed to save it decoded`,
      { details },
    );
  }
}

async function* decoded(
  raw: AsyncIterable<Uint8Array>,
  encodings: string[],
  url: URL,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  // Codings are listed in the order they were applied: undo them from the last.
  const decoders = [...encodings].reverse().map((encoding) => DECODERS[encoding]!());
  const output = pipeline(
    [Readable.from(raw, { objectMode: false }), ...decoders],
    () => {},
  ) as unknown as Readable;
  try {
    for await (const chunk of output) yield chunk as Uint8Array;
  } catch (error) {
    if (signal.aborted) throw abortError(signal);
    if (isDdmError(error)) throw error;
    throw new DdmError(
      'BAD_RESPONSE',
      `the ${encodings.join(', ')}-encoded body of ${describeUrl(url)} does not decode: ${(error as Error).message}`,
      { cause: error, details: { url: describeUrl(url) }, retryable: true },
    );
  } finally {
    output.destroy();
  }
}

function checkWholeResponse(response: OriginResponse, validators: Validators): void {
  const { statusCode, headers, url } = response;
  const where = describeUrl(url);
  if (statusCode >= 200 && statusCode <= 299 && statusCode !== 200) {
    throw new DdmError('BAD_RESPONSE', `origin answered ${statusCode} to a plain GET of ${where}`, {
      details: { url: where, status: statusCode },
    });
  }
  if (statusCode !== 200) throw errorForStatus(statusCode, url, headers);
  if (compareVersion(validators, headers) === 'other') {
    throw new DdmError(
      'ORIGIN_CHANGED',
      `the file changed on the origin since the download started (${where})`,
      {
        details: { url: where },
      },
    );
  }
}
