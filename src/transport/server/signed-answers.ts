/**
 * The server half of signed HTTP between swarm nodes (see protocol/auth.ts): reads a request and
 * checks its signature, and signs the answers over the request's nonce. The client half is
 * transport/client/signed-http.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_JSON_BODY_BYTES } from '../../constants.js';
import { DdmError, type ErrorCode } from '../../errors.js';
import {
  AUTH_HEADERS,
  bodyDigest,
  describeAuthFailure,
  type RequestTarget,
  type RequestVerifier,
  STREAM_BODY,
  type SwarmKey,
  signResponse,
} from '../../protocol/auth.js';

/** A code on the wire: ours, or INTERNAL for a fault the server does not explain. */
export type WireErrorCode = ErrorCode | 'INTERNAL';

export type SignedRequest =
  | { ok: true; body: Buffer; nonce: string; target: RequestTarget }
  | { ok: false; status: 401 | 413; code: WireErrorCode; message: string };

/**
 * Reads a request body (at most `maxBytes`) and checks its signature. A failure is returned,
 * not thrown, because the caller must answer it unsigned.
 */
export async function readSignedRequest(
  req: IncomingMessage,
  verifier: RequestVerifier,
  maxBytes = MAX_JSON_BODY_BYTES,
): Promise<SignedRequest> {
  const body = await readRequestBody(req, maxBytes);
  if (body === undefined) {
    return {
      ok: false,
      status: 413,
      code: 'PROTOCOL',
      message: `request body larger than ${maxBytes} bytes`,
    };
  }
  const sender = req.socket.remoteAddress ?? '';
  const verdict = verifier.verify(req.method ?? 'GET', req.url ?? '/', req.headers, body, Date.now(), sender);
  if (!verdict.ok)
    return { ok: false, status: 401, code: 'AUTH_FAILED', message: describeAuthFailure(verdict.reason) };
  return { ok: true, body, nonce: verdict.nonce, target: verdict.target };
}

/** Resolves to the whole body, or undefined once it exceeds `maxBytes` (reading then stops). */
function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (outcome: () => void) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      outcome();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      req.pause();
      finish(() => resolve(undefined));
    };
    const onEnd = () => finish(() => resolve(Buffer.concat(chunks, size)));
    const onError = (error: Error) => finish(() => reject(error));
    const onClose = () =>
      finish(() =>
        reject(new DdmError('NETWORK', 'client closed the connection before sending its request')),
      );
    req.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose);
  });
}

/** Answers JSON, signed over the request's nonce when the request was authenticated. */
export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  key?: SwarmKey,
  nonce?: string,
): void {
  const text = JSON.stringify(value);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  };
  if (key !== undefined && nonce !== undefined) {
    headers[AUTH_HEADERS.signature] = signResponse(key, status, nonce, bodyDigest(text));
  }
  res.writeHead(status, headers).end(text);
}

export function sendError(
  res: ServerResponse,
  status: number,
  code: WireErrorCode,
  message: string,
  key?: SwarmKey,
  nonce?: string,
  details?: Record<string, string | number | boolean | null>,
): void {
  const text = message.slice(0, MAX_WIRE_TEXT_CHARS);
  const error =
    details === undefined ? { code, message: text } : { code, message: text, details: fitDetails(details) };
  sendJson(res, status, { error }, key, nonce);
}

/** The wire's ErrorBody bounds every text; a longer one would make the whole error unreadable. */
const MAX_WIRE_TEXT_CHARS = 1_024;
const MAX_WIRE_DETAIL_NAME_CHARS = 64;

function fitDetails(details: Record<string, string | number | boolean | null>): typeof details {
  const fitted: typeof details = {};
  for (const [name, value] of Object.entries(details)) {
    if (name.length > MAX_WIRE_DETAIL_NAME_CHARS) continue;
    fitted[name] = typeof value === 'string' ? value.slice(0, MAX_WIRE_TEXT_CHARS) : value;
  }
  return fitted;
}

/** Starts a signed 200 byte-stream answer of exactly `length` bytes. */
export function sendStreamHead(res: ServerResponse, length: number, key: SwarmKey, nonce: string): void {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': length,
    'cache-control': 'no-store',
    [AUTH_HEADERS.signature]: signResponse(key, 200, nonce, STREAM_BODY),
  });
}
