/**
 * The `ddm get` command line that asks for a given download request: shown by the daemon (the
 * UI's "equivalent command", `ddm.getCommandLine`) so a download can be repeated from a shell.
 * It lives with the flags it speaks; the daemon is handed it, so the daemon never imports the CLI.
 */
import { parse } from 'valibot';
import { downloadRequestSchema } from '../engine/request.js';
import { GET_OPTIONS, type OptionSpec } from './option-specs.js';

/** `ddm get` with one flag for every key that is not its default; the secret is never shown. */
export function commandLineFor(request: Record<string, unknown>): string {
  const url = String(request.url ?? '');
  const defaults = parse(downloadRequestSchema, { url }) as Record<string, unknown>;
  const words = ['ddm', 'get', quote(url)];
  const said = new Set<string>();
  for (const spec of GET_OPTIONS) {
    const key = spec.requestKey ?? spec.key;
    const value = request[key];
    if (value === undefined || key === 'secret' || said.has(key)) continue;
    if (sameValue(value, defaults[key])) continue;
    const flagWords = wordsFor(spec, value);
    if (flagWords.length === 0) continue;
    words.push(...flagWords);
    said.add(key);
  }
  if (request.secret !== undefined) words.unshift('DDM_SECRET=…');
  return words.join(' ');
}

/** The words that set `value` through this spec; none when the spec cannot say it (the other
 *  spec of a `--x` / `--no-x` pair does). */
function wordsFor(spec: OptionSpec, value: unknown): string[] {
  const flag = spec.flags.split(/[ ,]+/).find((word) => word.startsWith('--')) ?? `--${spec.key}`;
  if (spec.kind === 'bool') {
    const says = !(spec.negated === true || flag.startsWith('--no-'));
    return value === says ? [flag] : [];
  }
  if (Array.isArray(value)) return value.flatMap((item) => [flag, quote(String(item))]);
  return [flag, quote(String(value))];
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
