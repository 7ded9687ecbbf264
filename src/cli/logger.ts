import type { Logger, default as Pino } from 'pino';
import { requirePackage } from '../util/require-package.js';

const pino = requirePackage<typeof Pino>('pino');

export type LogFormat = 'auto' | 'json' | 'text';

/** pino's numeric levels, as a reader of a terminal wants them. */
const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warning',
  50: 'error',
  60: 'fatal',
};

/** Fields every pino line has, or that the text line shows in its own place. */
const OWN_FIELDS = new Set(['level', 'time', 'name', 'msg']);

/**
 * Logs of long-running commands go to stderr: JSON lines for programs (the default when stderr
 * is not a terminal), readable lines for people (the default on a terminal); --verbose adds
 * debug detail.
 */
export function createLogger(
  name: string,
  verbose: boolean,
  format: LogFormat = 'auto',
  stderr: NodeJS.WriteStream = process.stderr,
): Logger {
  const text = format === 'text' || (format === 'auto' && stderr.isTTY === true);
  const destination = text ? { write: (line: string) => stderr.write(textLine(line)) } : stderr;
  return pino({ name, level: verbose ? 'debug' : 'info', base: undefined }, destination);
}

/** `ddm peer: warning: message (key=value, ...)` from one pino JSON line. */
export function textLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = LEVEL_NAMES[record.level as number] ?? String(record.level);
  const who = String(record.name ?? 'ddm').replace(/^ddm-/, 'ddm ');
  const fields = Object.entries(record)
    .filter(([key]) => !OWN_FIELDS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const tail = fields.length > 0 ? ` (${fields.join(', ')})` : '';
  const prefix = level === 'info' ? '' : `${level}: `;
  return `${who}: ${prefix}${String(record.msg ?? '')}${tail}\n`;
}
