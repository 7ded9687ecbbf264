/**
 * A peer's /v1/fetch over ddm's own keep-alive sockets (origin/origin-sockets.ts), for plain-http
 * peers: the same signed POST and the same checks as signed-http.ts's `signedStream`, but the
 * body is read straight into reused slabs rather than through undici's buffer per read and
 * stream per response. Through undici a client fed by helpers ran 42 full collections per GiB;
 * this is the path its own origin connections already take.
 */
import { DEFAULT_TIMEOUT_MS, MAX_JSON_RESPONSE_BYTES } from '../../constants.js';
import { abortError, DdmError, isDdmError } from '../../errors.js';
import type { LeasedBytes } from '../../origin/leased-bytes.js';
import type { SocketBody } from '../../origin/origin-connection.js';
import type { OriginSockets, SocketAnswer } from '../../origin/origin-sockets.js';
import { requestText } from '../../origin/request-text.js';
import type { ResponseHead } from '../../origin/response-head.js';
import { contentLength } from '../../origin/response-headers.js';
import { bodyDigest, STREAM_BODY } from '../../protocol/auth.js';
import {
  asCallError,
  brokenOff,
  checkLength,
  checkSignedAnswer,
  describeNode,
  type SignedStreamOptions,
  signedHeaders,
  targetUrl,
} from './signed-http.js';

/**
 * POSTs the signed request on one of `sockets`' connections. Resolves once a signed 200 with
 * the expected length arrives; its body then yields exactly `expectedBytes` bytes, as leased
 * slabs, or throws a DdmError.
 */
export async function signedSocketStream(
  sockets: OriginSockets,
  opts: SignedStreamOptions,
): Promise<LeasedBytes> {
  const who = describeNode(opts);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    const url = targetUrl(opts.baseUrl, opts.path);
    const payload = JSON.stringify(opts.body);
    const { headers, nonce } = signedHeaders(opts, 'POST', url, payload);
    // The signed headers carry the Host the signature covers; all of them are ASCII.
    const request = requestText('POST', url, headers, payload);
    if (request === undefined) throw new Error('signedSocketStream: a signed header that cannot be sent');
    const answer = await sockets
      .exchange(
        {
          request,
          bodyBytes: bodyBytesFor(opts.expectedBytes),
          timeoutMs,
          url,
        },
        opts.signal,
      )
      .catch((error: unknown) => {
        throw transportFailure(error, who);
      });
    const signed = { status: answer.head.statusCode, headers: answer.head.headers, nonce };
    if (signed.status !== 200) {
      const raw = await readWhole(answer, who);
      checkSignedAnswer(opts.key, signed, bodyDigest(raw), raw, who);
      throw new DdmError('PROTOCOL', `${who} answered HTTP ${signed.status} instead of a byte stream`);
    }
    try {
      checkSignedAnswer(opts.key, signed, STREAM_BODY, undefined, who);
      checkLength(answer.head.headers['content-length'], opts.expectedBytes, who);
    } catch (error) {
      answer.connection.destroy();
      throw error;
    }
    const body = answer.connection.acceptBody();
    if (body === undefined) {
      // A Content-Length and a Transfer-Encoding both: the stream's framing cannot be trusted.
      answer.connection.destroy();
      throw new DdmError('PROTOCOL', `${who} sent a byte stream framed two ways`);
    }
    return new PeerStreamBody(body, opts.expectedBytes, who, opts.signal);
  } catch (error) {
    throw asCallError(error, opts, opts.signal, who);
  }
}

/** The stream of a 200, or a refusal's JSON (which says why, and is signed over its digest). */
function bodyBytesFor(expectedBytes: number): (head: ResponseHead) => number | undefined {
  return (head) => {
    if (head.statusCode === 200) return expectedBytes;
    const length = contentLength(head.headers) ?? Number.POSITIVE_INFINITY;
    return length <= MAX_JSON_RESPONSE_BYTES ? length : undefined;
  };
}

/** The whole body of a refusal, copied out of the slabs; none when it could not be read. */
async function readWhole(answer: SocketAnswer, who: string): Promise<Buffer> {
  const body = answer.connection.acceptBody();
  if (body === undefined) {
    answer.connection.destroy();
    throw new DdmError(
      'PROTOCOL',
      `${who} answered HTTP ${answer.head.statusCode} with a body that is not length-framed or over ${MAX_JSON_RESPONSE_BYTES} bytes`,
    );
  }
  const parts: Buffer[] = [];
  for await (const chunk of body) {
    parts.push(Buffer.from(chunk));
    body.release(chunk.byteLength);
  }
  return Buffer.concat(parts);
}

/** What dialling or the answer's head failed with, said of the peer rather than of an origin. */
function transportFailure(error: unknown, who: string): unknown {
  if (!isDdmError(error) || error.code === 'ABORTED') return error;
  if (error.code === 'TIMEOUT') {
    return new DdmError('TIMEOUT', `${who} did not answer in time`, { cause: error, retryable: true });
  }
  if (error.code === 'NETWORK') {
    const reason = error.cause instanceof Error ? error.cause.message : error.message;
    return new DdmError('NETWORK', `cannot reach ${who}: ${reason}`, { cause: error, retryable: true });
  }
  return new DdmError('PROTOCOL', `${who} sent a broken answer: ${error.message}`, { cause: error });
}

/**
 * The body of a 200: the connection's slabs, counted, with a stall or a short body said of the
 * peer (TIMEOUT, PEER_FAILED) as signed-http.ts's undici path says them.
 */
class PeerStreamBody implements LeasedBytes, AsyncIterator<Uint8Array> {
  readonly leased = true;
  private received = 0;

  constructor(
    private readonly body: SocketBody,
    private readonly expected: number,
    private readonly who: string,
    private readonly signal: AbortSignal,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    let result: IteratorResult<Uint8Array>;
    try {
      result = await this.body.next();
    } catch (error) {
      throw this.failure(error);
    }
    if (result.done) {
      if (this.received !== this.expected) throw brokenOff(this.who, this.received, this.expected, undefined);
      return result;
    }
    this.received += result.value.byteLength;
    return result;
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    return this.body.return();
  }

  release(bytes: number): void {
    this.body.release(bytes);
  }

  private failure(error: unknown): DdmError {
    if (this.signal.aborted) return abortError(this.signal);
    if (isDdmError(error, 'TIMEOUT')) {
      return new DdmError('TIMEOUT', `${this.who} stalled after ${this.received} of ${this.expected} bytes`, {
        cause: error,
        retryable: true,
      });
    }
    return brokenOff(this.who, this.received, this.expected, error);
  }
}
