/**
 * The engine names the option key in its errors (`connections must be at most 64`); on the
 * command line the user typed a flag, so the CLI says `--connections must be at most 64`.
 */
import { DdmError, isDdmError } from '../errors.js';
import { GET_OPTIONS } from './option-specs.js';

/** The flag of a request key, e.g. `--no-local` for `local`; the key itself when none. */
export function flagForKey(key: string): string {
  if (key === 'url') return 'URL';
  const spec = GET_OPTIONS.find((option) => (option.requestKey ?? option.key) === key);
  const long = spec ? /--[a-z0-9-]+/.exec(spec.flags)?.[0] : undefined;
  return long ?? key;
}

/**
 * The engine quotes an option in its messages as `key` or `key=value` in backquotes; on the
 * command line that is the flag: `insecure` → --insecure, `local=false` → --no-local.
 */
export function flagsInText(text: string): string {
  return text.replace(/`([a-zA-Z]+)(?:=(true|false))?`/g, (quoted, key: string, value?: string) => {
    const spec = GET_OPTIONS.find((option) => option.key === key && option.kind === 'bool');
    if (!spec) return quoted;
    // A negated flag (--no-local) says `key=false`; a plain one (--insecure) says `key` or `key=true`.
    if (Boolean(spec.negated) !== (value === 'false')) return quoted;
    return flagForKey(key);
  });
}

/** `error` reworded with the flag, when it is about one option of a request or quotes one. */
export function withFlagNames(error: unknown): unknown {
  if (!isDdmError(error)) return error;
  const { key, problem } = error.details;
  if (typeof key !== 'string' || typeof problem !== 'string') {
    const message = flagsInText(error.message);
    if (message === error.message) return error;
    return new DdmError(error.code, message, {
      details: error.details,
      cause: error,
      retryable: error.retryable,
    });
  }
  return new DdmError(error.code, `${flagForKey(key)} ${flagsInText(problem)}`, {
    details: error.details,
    cause: error,
    retryable: error.retryable,
  });
}
