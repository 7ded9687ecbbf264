import { type DdmError, EXIT, isDdmError } from '../errors.js';

/** Prints one clear line (with the stable code) for an error and returns the exit code. */
export function printError(error: unknown, stderr: NodeJS.WritableStream, verbose: boolean): number {
  if (isDdmError(error)) {
    // `-o -` keeps nothing to resume from (details.resumable false).
    const resumable = error.details.resumable !== false;
    const hint = error.code === 'ABORTED' && resumable ? ' (run the same command again to resume)' : '';
    stderr.write(`ddm: error [${error.code}]: ${error.message}${hint}\n`);
    if (verbose) stderr.write(`${describeCause(error)}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  stderr.write(`ddm: error [INTERNAL]: ${message}\n`);
  if (verbose && error instanceof Error && error.stack) stderr.write(`${error.stack}\n`);
  return EXIT.FAILURE;
}

function describeCause(error: DdmError): string {
  const lines = [error.stack ?? ''];
  let cause = error.cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    lines.push(`caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return lines.join('\n');
}
