/**
 * aria2's option names (`split`, `max-download-limit`...) and the engine's request keys, in one
 * table. Values come as aria2 sends them, strings; numbers and booleans are taken too. An option
 * ddm does not know is ignored, as aria2 ignores one it does not know; a known one with a bad
 * value fails the call with aria2's words and ddm's reason.
 */
import { parseChecksum } from '../storage/checksum.js';
import { parseByteRate } from '../util/byte-rate.js';
import { methodError, type RpcError } from './rpc-error.js';

type Parse = (value: unknown) => unknown;

interface OptionRow {
  /** The engine's request key. */
  key: string;
  parse: Parse;
  /** Changes without a restart (aria2.changeOption on a running download). */
  live?: boolean;
}

class BadValue extends Error {}

const text: Parse = (value) => {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number') return String(value);
  throw new BadValue('must be a non-empty string');
};

const positiveInt: Parse = (value) => {
  const number = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isSafeInteger(number) || number < 1 || (typeof value === 'string' && value.trim() === '')) {
    throw new BadValue('must be a whole number of at least 1');
  }
  return number;
};

const seconds: Parse = (value) => {
  const number = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(number) || number <= 0) throw new BadValue('must be a number of seconds above 0');
  return number;
};

const bool: Parse = (value) => {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new BadValue('must be true or false');
};

const rate: Parse = (value) => {
  const parsed = typeof value === 'number' ? value : parseByteRate(String(value));
  if (parsed === undefined || !Number.isSafeInteger(parsed) || parsed < 0) {
    throw new BadValue('must be a speed like 500K or 2M');
  }
  return parsed;
};

const headers: Parse = (value) => {
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((line) => typeof line === 'string')) throw new BadValue('must be strings');
  return list;
};

const checksum: Parse = (value) => {
  const given = text(value) as string;
  try {
    parseChecksum(given);
  } catch (error) {
    throw new BadValue(error instanceof Error ? error.message.replace(/^--checksum /, '') : String(error));
  }
  return given;
};

/** aria2's name → the engine's key. `split` and `max-connection-per-server` both bound connections. */
const OPTIONS: Record<string, OptionRow> = {
  dir: { key: 'dir', parse: text },
  out: { key: 'output', parse: text },
  header: { key: 'header', parse: headers },
  split: { key: 'connections', parse: positiveInt, live: true },
  'max-connection-per-server': { key: 'connections', parse: positiveInt, live: true },
  'max-download-limit': { key: 'maxSpeed', parse: rate, live: true },
  checksum: { key: 'checksum', parse: checksum },
  'max-tries': { key: 'maxTries', parse: positiveInt },
  timeout: { key: 'timeout', parse: seconds },
  'allow-overwrite': { key: 'overwrite', parse: bool },
  'user-agent': { key: 'userAgent', parse: text },
  'ca-certificate': { key: 'caCertificate', parse: text },
  'check-certificate': { key: 'insecure', parse: (value) => !(bool(value) as boolean) },
};

/** Not a request key: `pause` adds the download paused. */
const PAUSE = 'pause';

export interface Aria2Request {
  /** Engine request keys (without `url`). */
  request: Record<string, unknown>;
  paused: boolean;
}

/** The engine request for aria2 options; unknown names are ignored (as aria2 does). */
export function requestFromOptions(options: unknown): Aria2Request {
  const request: Record<string, unknown> = {};
  let paused = false;
  for (const [name, value] of Object.entries(asStruct(options))) {
    if (name === PAUSE) {
      paused = parseOption(name, bool, value) as boolean;
      continue;
    }
    const row = OPTIONS[name];
    if (!row) continue;
    const parsed = parseOption(name, row.parse, value);
    // One server: aria2 opens min(split, max-connection-per-server) connections to it.
    request[row.key] =
      row.key === 'connections' && typeof request.connections === 'number'
        ? Math.min(request.connections, parsed as number)
        : parsed;
  }
  return { request, paused };
}

/** The live changes aria2.changeOption asks for; a known option that needs a restart is refused. */
export function liveChangesFromOptions(options: unknown): { connections?: number; maxSpeed?: number } {
  const { request, paused } = requestFromOptions(options);
  if (paused) throw methodError("The option 'pause' cannot be changed with aria2.changeOption.");
  for (const [name, row] of Object.entries(OPTIONS)) {
    if (!row.live && Object.hasOwn(asStruct(options), name)) {
      throw methodError(`ddm cannot change '${name}' of an added download; remove it and add it again.`);
    }
  }
  return request as { connections?: number; maxSpeed?: number };
}

/** aria2's options of a download, from its request as the session keeps it; values are strings. */
export function optionsOfRequest(
  request: Record<string, unknown>,
  dir: string | undefined,
): Record<string, string> {
  const options: Record<string, string> = {};
  const put = (name: string, value: unknown) => {
    if (value !== undefined && value !== null) options[name] = String(value);
  };
  put('dir', dir ?? request.dir);
  put('out', request.output);
  put('split', request.connections);
  put('max-connection-per-server', request.connections);
  put('max-download-limit', request.maxSpeed);
  put('max-tries', request.maxTries);
  put('timeout', request.timeout);
  put('allow-overwrite', request.overwrite);
  put('user-agent', request.userAgent);
  put('checksum', request.checksum);
  put('ca-certificate', request.caCertificate);
  // aria2 lists check-certificate only when it was set.
  if (request.insecure === true) options['check-certificate'] = 'false';
  if (Array.isArray(request.header) && request.header.length > 0) options.header = request.header.join('\n');
  return options;
}

export function asStruct(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw methodError('The options must be a struct.');
  }
  return value as Record<string, unknown>;
}

function parseOption(name: string, parse: Parse, value: unknown): unknown {
  try {
    return parse(value);
  } catch (error) {
    if (!(error instanceof BadValue)) throw error;
    throw optionError(name, error.message);
  }
}

/** aria2's words for a bad option value, and why. */
export function optionError(name: string, problem: string): RpcError {
  return methodError(`We encountered a problem while processing the option '--${name}': ${problem}.`);
}
