/**
 * Errors of the benchmark harness. Kept apart from DdmError because the harness is not the
 * product: its failures (a missing tool, a short disk) are about the machine, not about ddm.
 */

export type BenchErrorCode =
  | 'USAGE'
  | 'TOOL_MISSING'
  | 'DISK_SPACE'
  | 'NOT_READY'
  | 'TOOL_FAILED'
  | 'CHECKSUM_MISMATCH'
  | 'TIMEOUT'
  | 'ABORTED';

export class BenchError extends Error {
  override readonly name = 'BenchError';
  readonly code: BenchErrorCode;

  constructor(code: BenchErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

export function isBenchError(error: unknown, code?: BenchErrorCode): error is BenchError {
  return error instanceof BenchError && (code === undefined || error.code === code);
}

/** The error to throw when `signal` has fired: its reason if that is ours, ABORTED otherwise. */
export function abortedError(signal: AbortSignal): BenchError {
  return signal.reason instanceof BenchError
    ? signal.reason
    : new BenchError('ABORTED', 'interrupted', { cause: signal.reason });
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortedError(signal);
}
