/**
 * JSON-RPC 2.0 as aria2 speaks it: lenient where clients rely on it (no `jsonrpc` member needed,
 * any id, surplus parameters ignored), `token:SECRET` stripped from every call, batches, and
 * system.multicall with a token in each nested call. Transport-free: HTTP and WebSocket both
 * hand it a parsed message and send what it answers.
 */
import { timingSafeEqual } from 'node:crypto';
import { isDdmError } from '../errors.js';
import type { CallContext, Method } from './aria2-methods.js';
import { Params } from './params.js';
import {
  fromDdmError,
  invalidParams,
  invalidRequest,
  methodError,
  RpcError,
  UNAUTHORIZED,
} from './rpc-error.js';

export interface RpcResponse {
  id: unknown;
  jsonrpc: '2.0';
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface Answer {
  /** A response, an array of them (a batch), or nothing to send. */
  body: RpcResponse | RpcResponse[];
  /** HTTP status as aria2 picks it (200, or the single call's error status). */
  httpStatus: number;
  /** A call carried a wrong or no token: the answer goes out after the delay. */
  authFailed: boolean;
  /** A call was authorised: a WebSocket session then receives notifications. */
  authorized: boolean;
}

/** Calls that need no token: they only list names. */
const OPEN_METHODS = new Set(['system.listMethods', 'system.listNotifications']);
const TOKEN_PREFIX = 'token:';

export class JsonRpc {
  readonly #methods: Record<string, Method>;

  constructor(
    methods: Record<string, Method>,
    private readonly secret: string,
    notifications: readonly string[],
  ) {
    this.#methods = {
      ...methods,
      'system.multicall': () => {
        throw methodError('system.multicall is handled by the dispatcher');
      },
      'system.listMethods': () => Object.keys(this.#methods),
      'system.listNotifications': () => [...notifications],
    };
  }

  /** Answers one parsed message; `preAuthorized` when the transport already authorised the caller. */
  async answer(message: unknown, preAuthorized: boolean, context: CallContext): Promise<Answer> {
    const state = { authFailed: false, authorized: false };
    if (Array.isArray(message)) {
      const body: RpcResponse[] = [];
      for (const request of message) body.push(await this.#one(request, preAuthorized, context, state));
      return { body, httpStatus: 200, ...state };
    }
    const response = await this.#one(message, preAuthorized, context, state);
    const status = response.error ? new RpcError(response.error.code, '').httpStatus : 200;
    return { body: response, httpStatus: status, ...state };
  }

  async #one(
    request: unknown,
    preAuthorized: boolean,
    context: CallContext,
    state: { authFailed: boolean; authorized: boolean },
  ): Promise<RpcResponse> {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return failure(null, invalidRequest());
    }
    const { id, method, params } = request as { id?: unknown; method?: unknown; params?: unknown };
    if (!Object.hasOwn(request, 'id') || typeof method !== 'string')
      return failure(id ?? null, invalidRequest());
    if (params !== undefined && !Array.isArray(params)) return failure(id, invalidParams());
    try {
      const result =
        method === 'system.multicall'
          ? await this.#multicall(params ?? [], preAuthorized, context, state)
          : await this.#call(method, params ?? [], preAuthorized, context, state);
      return { id, jsonrpc: '2.0', result };
    } catch (error) {
      return failure(id, asRpcError(error));
    }
  }

  async #call(
    name: string,
    params: readonly unknown[],
    preAuthorized: boolean,
    context: CallContext,
    state: { authFailed: boolean; authorized: boolean },
  ): Promise<unknown> {
    const method = Object.hasOwn(this.#methods, name) ? this.#methods[name] : undefined;
    let rest = params;
    let authorized = preAuthorized;
    const first = params[0];
    if (typeof first === 'string' && first.startsWith(TOKEN_PREFIX)) {
      rest = params.slice(1);
      authorized ||= this.#tokenMatches(first.slice(TOKEN_PREFIX.length));
    }
    if (!OPEN_METHODS.has(name)) {
      if (!authorized) {
        state.authFailed = true;
        throw methodError(UNAUTHORIZED);
      }
      state.authorized = true;
    }
    if (!method) throw methodError(`No such method: ${name}`);
    return method(new Params(rest), context);
  }

  async #multicall(
    params: readonly unknown[],
    preAuthorized: boolean,
    context: CallContext,
    state: { authFailed: boolean; authorized: boolean },
  ): Promise<unknown[]> {
    const calls = params[0];
    if (!Array.isArray(calls)) throw methodError('The parameter at 0 has wrong type.');
    const results: unknown[] = [];
    for (const call of calls) {
      try {
        const { methodName, params: nested } = (call ?? {}) as { methodName?: unknown; params?: unknown };
        if (typeof call !== 'object' || call === null || typeof methodName !== 'string') {
          throw methodError('system.multicall expected struct.');
        }
        if (methodName === 'system.multicall') throw methodError('Recursive system.multicall forbidden.');
        if (nested !== undefined && !Array.isArray(nested)) throw methodError('Params must be an array.');
        results.push([await this.#call(methodName, nested ?? [], preAuthorized, context, state)]);
      } catch (error) {
        results.push(errorObject(asRpcError(error)));
      }
    }
    return results;
  }

  #tokenMatches(token: string): boolean {
    const given = Buffer.from(token);
    const expected = Buffer.from(this.secret);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

function failure(id: unknown, error: RpcError): RpcResponse {
  return { id, jsonrpc: '2.0', error: errorObject(error) };
}

function errorObject(error: RpcError): { code: number; message: string; data?: RpcError['data'] } {
  return { code: error.code, message: error.message, ...(error.data ? { data: error.data } : {}) };
}

function asRpcError(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  if (isDdmError(error)) return fromDdmError(error);
  return methodError(error instanceof Error ? error.message : String(error));
}
