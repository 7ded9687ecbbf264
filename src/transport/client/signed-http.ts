/**
 * HTTP between swarm nodes, signed both ways (see protocol/auth.ts). This client half signs its
 * requests and believes only answers signed over its own nonce, so a stranger on the LAN can
 * neither use a node nor pose as one. The server half (transport/server/signed-answers.ts) checks
 * requests and signs its answers.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { type GenericSchema, safeParse } from 'valibot';
import { CONTROL_REQUEST_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, MAX_JSON_RESPONSE_BYTES } from '../../constants.js';
import { isWireCode, policyFor } from '../../error-policy.js';
import { abortError, DdmError, type ErrorCode } from '../../errors.js';
import {
  ANY_NODE,
  AUTH_HEADERS,
  bodyDigest,
  STREAM_BODY,
  type SwarmKey,
  signRequest,
  verifyResponse,
} from '../../protocol/auth.js';
import { ErrorBody } from '../../protocol/messages.js';
import { childController } from '../../util/abort.js';
import { effectivePort, isForbiddenPort } from '../../util/http-ports.js';
import { describeIssues } from '../../util/schema-issues.js';
import { streamChunks } from '../../util/stream-chunks.js';
import { request, errors as undiciErrors } from '../../util/undici-parts.js';
import { describeTlsFailure, plainToTlsHint } from './node-trust.js';

export type NodeRole = 'tracker' | 'peer';

export interface SignedCall {
  baseUrl: string;
  key: SwarmKey;
  signal: AbortSignal;
  /** For JSON: the whole exchange. For streams: time to the response head and between body chunks. */
  timeoutMs?: number;
  /** Carries the TLS trust for https nodes (see node-trust.ts `loadNodeTrust`); plain http passes through. */
  dispatcher?: Dispatcher;
  /** Names the other side in error messages. */
  role?: NodeRole;
  /**
   * The id of the node this call is for, bound into the signature; ANY_NODE (the default) only
   * where no id can be known yet (a first GET /v1/info, a tracker).
   */
  node?: string;
}

export interface SignedJsonOptions<T> extends SignedCall {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  schema: GenericSchema<unknown, T>;
}

export interface SignedStreamOptions extends SignedCall {
  path: string;
  body: unknown;
  /** The exact body length the answer must declare and deliver. */
  expectedBytes: number;
}

/** Sends a signed JSON request and returns the validated answer, or throws a DdmError. */
export async function signedJson<T>(opts: SignedJsonOptions<T>): Promise<T> {
  const who = describeNode(opts);
  const timeoutMs = opts.timeoutMs ?? CONTROL_REQUEST_TIMEOUT_MS;
  const { controller, dispose } = childController(opts.signal);
  const timer = setTimeout(
    () =>
      controller.abort(
        new DdmError('TIMEOUT', `${who} did not answer within ${timeoutMs} ms`, { retryable: true }),
      ),
    timeoutMs,
  );
  try {
    const sent = await sendSigned(opts, opts.method, opts.path, opts.body, controller.signal, timeoutMs);
    const raw = await readCapped(sent.response.body, MAX_JSON_RESPONSE_BYTES, who);
    checkAnswer(opts.key, sent, bodyDigest(raw), raw, who);
    return parseAnswer(raw, opts.schema, who);
  } catch (error) {
    throw asCallError(error, opts, controller.signal, who);
  } finally {
    clearTimeout(timer);
    dispose();
  }
}

/**
 * POSTs a signed request whose answer is a byte stream (a peer's /v1/fetch). Resolves once a
 * signed 200 with the expected length arrives; the body then yields exactly `expectedBytes`
 * bytes or throws a DdmError.
 */
export async function signedStream(opts: SignedStreamOptions): Promise<AsyncIterable<Uint8Array>> {
  const who = describeNode(opts);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    const sent = await sendSigned(opts, 'POST', opts.path, opts.body, opts.signal, timeoutMs);
    const { response } = sent;
    if (response.statusCode !== 200) {
      const raw = await readCapped(response.body, MAX_JSON_RESPONSE_BYTES, who);
      checkAnswer(opts.key, sent, bodyDigest(raw), raw, who);
      throw new DdmError('PROTOCOL', `${who} answered HTTP ${response.statusCode} instead of a byte stream`);
    }
    try {
      checkAnswer(opts.key, sent, STREAM_BODY, undefined, who);
      checkLength(response.headers['content-length'], opts.expectedBytes, who);
    } catch (error) {
      discard(response.body);
      throw error;
    }
    return countedBody(response.body, opts.expectedBytes, who, opts.signal);
  } catch (error) {
    throw asCallError(error, opts, opts.signal, who);
  }
}

interface SentRequest {
  response: Dispatcher.ResponseData;
  nonce: string;
}

async function sendSigned(
  call: SignedCall,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<SentRequest> {
  const url = targetUrl(call.baseUrl, path);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const { headers, nonce } = signedHeaders(call, method, url, payload);
  const response = await request(url, {
    method,
    headers,
    body: payload,
    signal,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    ...(call.dispatcher ? { dispatcher: call.dispatcher } : {}),
  });
  return { response, nonce };
}

/** The headers of a signed request (lower-case names) and the nonce its answer must be signed over. */
export function signedHeaders(
  call: SignedCall,
  method: 'GET' | 'POST',
  url: URL,
  payload: string | undefined,
): { headers: Record<string, string>; nonce: string } {
  const target = { authority: url.host, node: call.node ?? ANY_NODE };
  const auth = signRequest(call.key, method, url.pathname + url.search, payload, target);
  const headers: Record<string, string> = { ...auth, accept: 'application/json' };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return { headers, nonce: auth[AUTH_HEADERS.nonce]! };
}

export function targetUrl(baseUrl: string, path: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(path, baseUrl);
  } catch {
    // Reported below with the same message as a wrong scheme.
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new DdmError('URL_INVALID', `not an http(s) node address: ${baseUrl}`);
  }
  // Whoever registers or announces a node chooses its port: one where mail, SSH or a database
  // listens would read our request as commands, so nodes refuse the ports peers refuse origins.
  const port = effectivePort(url.protocol, url.port);
  if (isForbiddenPort(port)) {
    throw new DdmError(
      'FORBIDDEN_DESTINATION',
      `refusing node address ${baseUrl}: port ${port} is not for HTTP`,
      {
        details: { port },
      },
    );
  }
  return url;
}

export function describeNode(call: SignedCall): string {
  return `${call.role ?? 'node'} at ${call.baseUrl}`;
}

/** Throws unless the answer is signed for our nonce and successful. */
function checkAnswer(
  key: SwarmKey,
  sent: SentRequest,
  digest: string,
  raw: Buffer | undefined,
  who: string,
): void {
  const answer = { status: sent.response.statusCode, headers: sent.response.headers, nonce: sent.nonce };
  checkSignedAnswer(key, answer, digest, raw, who);
}

/** An answer's status and headers, and the nonce of the request it answers. */
export interface SignedAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  nonce: string;
}

/**
 * Throws unless the answer is signed for our nonce (over `digest`: the body's, or STREAM_BODY)
 * and successful; a refusal's `raw` body says why, in the error thrown.
 */
export function checkSignedAnswer(
  key: SwarmKey,
  answer: SignedAnswer,
  digest: string,
  raw: Buffer | undefined,
  who: string,
): void {
  const { status } = answer;
  const signature = singleHeader(answer.headers[AUTH_HEADERS.signature]);
  const remote = raw === undefined ? undefined : parseErrorBody(raw);
  if (!verifyResponse(key, status, answer.nonce, digest, signature))
    throw unsignedFailure(status, remote, who);
  if (status < 200 || status >= 300) throw remoteFailure(status, remote, who);
}

/**
 * An unsigned answer comes from a node that could not (or would not) check our request: it
 * refused our signature, our body was too large, or it does not share our secret at all.
 */
function unsignedFailure(status: number, remote: ErrorBody | undefined, who: string): DdmError {
  if (status === 401 && remote?.error.code === 'AUTH_FAILED') {
    return new DdmError(
      'AUTH_FAILED',
      `${who} refused the request: ${cleanRemoteText(remote.error.message)}`,
    );
  }
  if (status === 413) return new DdmError('PROTOCOL', `${who} refused the request: body too large`);
  return new DdmError('AUTH_FAILED', `${who} is not a member of this swarm (wrong secret?)`);
}

function remoteFailure(status: number, remote: ErrorBody | undefined, who: string): DdmError {
  // Codes that keep their meaning on the wire are decided in src/error-policy.ts; others read as PROTOCOL.
  const code = remote && isWireCode(remote.error.code) ? remote.error.code : 'PROTOCOL';
  const text = remote ? cleanRemoteText(remote.error.message) : `HTTP ${status}`;
  const details = { ...remote?.error.details, node: who, nodeStatus: status };
  return new DdmError(code, `${who}: ${text}`, { details, retryable: isRetryable(code, details) });
}

function isRetryable(code: ErrorCode, details: Record<string, unknown>): boolean {
  if (typeof details.retryable === 'boolean') return details.retryable;
  if (policyFor(code).retryableFromWire) return true;
  if (code !== 'HTTP_STATUS') return false;
  const originStatus = typeof details.status === 'number' ? details.status : 0;
  return originStatus === 429 || originStatus >= 500;
}

function parseErrorBody(raw: Buffer): ErrorBody | undefined {
  try {
    const parsed = safeParse(ErrorBody, JSON.parse(raw.toString('utf8')));
    return parsed.success ? parsed.output : undefined;
  } catch {
    return undefined;
  }
}

function parseAnswer<T>(raw: Buffer, schema: GenericSchema<unknown, T>, who: string): T {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new DdmError('PROTOCOL', `${who} sent malformed JSON`);
  }
  const parsed = safeParse(schema, value);
  if (!parsed.success)
    throw new DdmError(
      'PROTOCOL',
      `${who} sent an unexpected answer: ${describeIssues(parsed.issues, 3, 'answer')}`,
    );
  return parsed.output;
}

/** Text from another node ends up on a terminal: no control characters, bounded length. */
function cleanRemoteText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, 300);
}

export function checkLength(header: string | string[] | undefined, expected: number, who: string): void {
  const declared = singleHeader(header);
  if (declared === undefined || !/^\d+$/.test(declared) || Number(declared) !== expected) {
    throw new DdmError('PROTOCOL', `${who} announced ${declared ?? 'no'} bytes instead of ${expected}`, {
      details: { expected, declared: declared ?? null },
    });
  }
}

/**
 * Drops a body we will not read. Destroying an undici body that already arrived in full emits
 * UND_ERR_ABORTED on it; with nobody listening, that would be an uncaught exception.
 */
function discard(body: Readable): void {
  body.on('error', ignoreError);
  body.destroy();
}

function ignoreError(): void {}

function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

async function readCapped(body: Readable, maxBytes: number, who: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      discard(body);
      throw new DdmError('PROTOCOL', `${who} sent an answer larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

async function* countedBody(
  body: Readable,
  expected: number,
  who: string,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  let received = 0;
  try {
    for await (const chunk of streamChunks(body)) {
      received += chunk.byteLength;
      if (received > expected) throw new DdmError('PROTOCOL', `${who} sent more than ${expected} bytes`);
      yield chunk;
    }
  } catch (error) {
    if (error instanceof DdmError) throw error;
    if (signal.aborted) throw abortError(signal);
    if (error instanceof undiciErrors.BodyTimeoutError) {
      throw new DdmError('TIMEOUT', `${who} stalled after ${received} of ${expected} bytes`, {
        cause: error,
        retryable: true,
      });
    }
    throw brokenOff(who, received, expected, error);
  } finally {
    if (!body.destroyed) discard(body);
  }
  if (received !== expected) throw brokenOff(who, received, expected, undefined);
}

export function brokenOff(who: string, received: number, expected: number, cause: unknown): DdmError {
  return new DdmError('PEER_FAILED', `${who} broke off after ${received} of ${expected} bytes`, {
    cause,
    retryable: true,
    details: { received, expected },
  });
}

/** Maps whatever a call threw to a DdmError that says which node and what kind of failure. */
export function asCallError(error: unknown, call: SignedCall, inner: AbortSignal, who: string): DdmError {
  if (call.signal.aborted) return abortError(call.signal);
  if (inner.aborted && inner.reason instanceof DdmError) return inner.reason;
  const tls = describeTlsFailure(error, who, call.baseUrl);
  if (tls) return tls;
  if (error instanceof DdmError) return error;
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new DdmError('TIMEOUT', `${who} did not answer in time`, { cause: error, retryable: true });
  }
  const reason = error instanceof Error ? error.message : String(error);
  const hint = plainToTlsHint(error, call.baseUrl);
  return new DdmError('NETWORK', `cannot reach ${who}: ${reason}${hint}`, { cause: error, retryable: true });
}
