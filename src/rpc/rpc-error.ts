import type { DdmError } from '../errors.js';

/** A JSON-RPC error as aria2 sends it: code 1 for a method that failed, JSON-RPC's codes for the rest. */
export const RPC_CODES = {
  METHOD_FAILED: 1,
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  INVALID_PARAMS: -32602,
} as const;

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** JSON-RPC's `data`: ddm's stable error code and the request key at fault, for scripts and the UI. */
    readonly data?: { code: string; key?: string },
  ) {
    super(message);
  }

  /** aria2 answers a failed method with 400, a parse error and bad params with 500. */
  get httpStatus(): number {
    return this.code === RPC_CODES.PARSE_ERROR || this.code === RPC_CODES.INVALID_PARAMS ? 500 : 400;
  }
}

/** A method failed: aria2's `{"code":1,"message":...}`. */
export function methodError(message: string): RpcError {
  return new RpcError(RPC_CODES.METHOD_FAILED, message);
}

/** A ddm error as a failed method: aria2's code 1, ddm's code and key in `data`. */
export function fromDdmError(error: DdmError): RpcError {
  const key = typeof error.details.key === 'string' ? { key: error.details.key } : {};
  return new RpcError(RPC_CODES.METHOD_FAILED, error.message, { code: error.code, ...key });
}

export function parseError(): RpcError {
  return new RpcError(RPC_CODES.PARSE_ERROR, 'Parse error.');
}

export function invalidRequest(): RpcError {
  return new RpcError(RPC_CODES.INVALID_REQUEST, 'Invalid Request.');
}

export function invalidParams(): RpcError {
  return new RpcError(RPC_CODES.INVALID_PARAMS, 'Invalid params.');
}

export const UNAUTHORIZED = 'Unauthorized';
