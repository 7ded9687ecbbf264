/**
 * JSON-RPC over HTTP: POST with any Content-Type, GET with `method`, `id` and base64 `params`
 * (JSONP with `jsoncallback`), at most RPC_MAX_REQUEST_BYTES per request as aria2.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { RPC_AUTH_FAILURE_DELAY_MS, RPC_MAX_REQUEST_BYTES } from '../constants.js';
import { corsHeaders, refusal } from './access.js';
import type { RpcDeps } from './deps.js';
import type { JsonRpc } from './json-rpc.js';
import { invalidRequest, methodError, parseError, RPC_CODES, RpcError } from './rpc-error.js';

const CALLBACK_NAME = /^[A-Za-z_$][\w$.]{0,127}$/;

class TooLarge extends Error {}

export function httpHandler(
  rpc: JsonRpc,
  deps: RpcDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    serve(rpc, deps, req, res).catch((error: unknown) => {
      if (!res.headersSent)
        sendError(res, 500, methodError(error instanceof Error ? error.message : String(error)));
      else res.destroy();
    });
  };
}

async function serve(rpc: JsonRpc, deps: RpcDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const refused = refusal(req, deps);
  if (refused) {
    req.resume();
    sendError(res, refused.status, methodError(refused.message));
    return;
  }
  const cors = corsHeaders(req);
  if (req.method === 'OPTIONS') {
    req.resume();
    res.writeHead(204, { ...cors, 'content-length': 0 });
    res.end();
    return;
  }
  let message: unknown;
  let callback: string | undefined;
  // A GET can come from a <script> tag of any page, which sends no Origin: only a token authorises it.
  let preAuthorized = false;
  if (req.method === 'GET') {
    const query = new URL(req.url ?? '/', 'http://daemon').searchParams;
    callback = query.get('jsoncallback') ?? undefined;
    if (callback !== undefined && !CALLBACK_NAME.test(callback)) {
      sendError(res, 400, invalidRequest(), cors);
      return;
    }
    message = fromQuery(query);
  } else if (req.method === 'POST') {
    preAuthorized = deps.authorizeRequest?.(req) ?? false;
    try {
      message = parseJson(await readBody(req));
    } catch (error) {
      if (!(error instanceof TooLarge)) throw error;
      res.once('finish', () => req.destroy());
      sendError(res, 413, tooLarge(), cors);
      return;
    }
  } else {
    req.resume();
    sendError(res, 405, methodError(`${req.method} is not allowed: use POST, GET or a WebSocket`), cors);
    return;
  }
  if (message instanceof Error) {
    sendBody(res, 500, { id: null, jsonrpc: '2.0', error: errorOf(message as RpcError) }, cors, callback);
    return;
  }
  const answer = await rpc.answer(message, preAuthorized, {});
  if (answer.authFailed) await delay(RPC_AUTH_FAILURE_DELAY_MS);
  sendBody(res, answer.httpStatus, answer.body, cors, callback);
}

/** The message of a GET: one call from method/id/params, or a whole batch in params. */
function fromQuery(query: URLSearchParams): unknown {
  const params = query.get('params');
  let decoded: unknown;
  if (params !== null) {
    decoded = parseJson(Buffer.from(params, 'base64'));
    if (decoded instanceof Error) return decoded;
  }
  const method = query.get('method');
  if (method === null) return decoded ?? parseError();
  return { method, id: query.get('id'), ...(decoded === undefined ? {} : { params: decoded }) };
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return parseError();
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  if (Number(req.headers['content-length'] ?? 0) > RPC_MAX_REQUEST_BYTES) throw new TooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > RPC_MAX_REQUEST_BYTES) throw new TooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function errorOf(error: RpcError): { code: number; message: string } {
  return { code: error.code, message: error.message };
}

function sendError(
  res: ServerResponse,
  status: number,
  error: RpcError,
  cors: Record<string, string> = {},
): void {
  sendBody(res, status, { id: null, jsonrpc: '2.0', error: errorOf(error) }, cors);
}

/** aria2 drops the connection; ddm says why first. */
function tooLarge(): RpcError {
  return new RpcError(
    RPC_CODES.INVALID_REQUEST,
    `Request too large: at most ${RPC_MAX_REQUEST_BYTES} bytes.`,
  );
}

function sendBody(
  res: ServerResponse,
  status: number,
  body: unknown,
  cors: Record<string, string>,
  callback?: string,
): void {
  const json = JSON.stringify(body);
  const text = callback === undefined ? json : `${callback}(${json})`;
  res.writeHead(status, {
    ...cors,
    'content-type': callback === undefined ? 'application/json-rpc' : 'text/javascript',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-cache',
  });
  res.end(text);
}
