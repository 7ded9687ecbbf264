/**
 * A minimal JSON API over HTTP on loopback, for the daemon's own tests and scripts. TEMPORARY:
 * the aria2-compatible JSON-RPC replaces it. Every request must carry the daemon's secret
 * (`Authorization: Bearer <secret>`) and a Host that is the daemon's own address or localhost,
 * so a web page cannot reach it through DNS rebinding.
 *
 *   GET  /api/v0/downloads                      every download's status, and finished results
 *   POST /api/v0/downloads         {request}    adds one; answers {id}
 *   GET  /api/v0/downloads/ID                   one status
 *   POST /api/v0/downloads/ID/pause | /resume
 *   POST /api/v0/downloads/ID/remove {keepFiles?}
 *   POST /api/v0/downloads/ID/options {connections?, maxSpeed?, helpers?}
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { MAX_JSON_BODY_BYTES } from '../constants.js';
import type { Engine } from '../engine/engine.js';
import { downloadRequestSchema } from '../engine/request.js';
import { isDdmError } from '../errors.js';

export interface ApiDeps {
  engine: Engine;
  secret: string;
  /** Host header values this daemon answers to (host:port). */
  allowedHosts: () => ReadonlySet<string>;
  /** Downloads over in an earlier life of the daemon. */
  finished: () => readonly unknown[];
  /** The queue changed: save the session. */
  changed: () => void;
}

export const API_PATH_PREFIX = '/api/v0/';
const PREFIX = '/api/v0/downloads';

const removeBody = z.strictObject({ keepFiles: z.boolean().optional() });
const optionsBody = downloadRequestSchema
  .pick({ connections: true, maxSpeed: true, helpers: true })
  .partial()
  .strict();

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function apiHandler(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(req, deps)
      .then((body) => send(res, body === undefined ? 204 : 200, body))
      .catch((error: unknown) => sendError(res, error));
  };
}

async function handle(req: IncomingMessage, deps: ApiDeps): Promise<unknown> {
  if (!deps.allowedHosts().has((req.headers.host ?? '').toLowerCase())) {
    throw new ApiError(403, 'FORBIDDEN_HOST', 'this daemon answers only to its own address or localhost');
  }
  if (!authorized(req.headers.authorization, deps.secret)) {
    throw new ApiError(401, 'AUTH_FAILED', 'missing or wrong daemon secret (Authorization: Bearer <secret>)');
  }
  const path = new URL(req.url ?? '/', 'http://daemon').pathname;
  if (path === PREFIX && req.method === 'GET') {
    return { downloads: deps.engine.list().map((handle) => handle.status()), finished: deps.finished() };
  }
  if (path === PREFIX && req.method === 'POST') {
    const handle = deps.engine.add(await readJson(req));
    deps.changed();
    return { id: handle.id };
  }
  const match = /^\/api\/v0\/downloads\/([0-9a-f]{16})(?:\/(pause|resume|remove|options))?$/.exec(path);
  if (!match) throw new ApiError(404, 'NOT_FOUND', `no such API: ${req.method} ${path}`);
  const handle = deps.engine.get(match[1]!);
  if (!handle) throw new ApiError(404, 'NOT_FOUND', `no download ${match[1]}`);
  const action = match[2];
  if (action === undefined && req.method === 'GET') return handle.status();
  if (req.method !== 'POST') throw new ApiError(405, 'METHOD', `${req.method} is not allowed here`);
  if (action === 'pause') await handle.pause();
  else if (action === 'resume') handle.resume();
  else if (action === 'remove') await handle.remove(parseBody(removeBody, await readJson(req)));
  else if (action === 'options')
    handle.setOptions(stripUndefined(parseBody(optionsBody, await readJson(req))));
  deps.changed();
  return handle.status();
}

function authorized(header: string | undefined, secret: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(secret);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError(400, 'USAGE', `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return parsed.data;
}

function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as never;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BODY_BYTES) throw new ApiError(413, 'TOO_LARGE', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError(400, 'USAGE', 'the body is not JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, error: unknown): void {
  if (error instanceof ApiError) {
    send(res, error.status, { error: { code: error.code, message: error.message } });
  } else if (isDdmError(error)) {
    const key = typeof error.details.key === 'string' ? { key: error.details.key } : {};
    send(res, 400, { error: { code: error.code, message: error.message, ...key } });
  } else {
    send(res, 500, {
      error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) },
    });
  }
}
