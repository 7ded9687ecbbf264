/**
 * `ddm get -i FILE`: the input-file format of aria2. Each line not indented is a URL (a new
 * download); the indented `key=value` lines under it are that download's options; blank lines
 * and lines starting with `#` are skipped. Keys are ddm's option names in kebab-case
 * (`max-speed=1M`), or aria2's for the few that mean the same (`out`, `split`, `max-download-limit`).
 */
import { DdmError } from '../errors.js';
import { GET_OPTIONS, type OptionSpec } from './option-specs.js';

export interface InputEntry {
  url: string;
  /** Request keys (camelCase) and their values, typed by the option's kind. */
  options: Record<string, unknown>;
  /** 1-based line of the URL. */
  line: number;
}

/** aria2's names for options ddm has under another name. */
const ARIA2_ALIASES: Record<string, string> = {
  out: 'output',
  split: 'connections',
  'max-connection-per-server': 'connections',
  'max-download-limit': 'maxSpeed',
  'user-agent': 'userAgent',
};

/** Options that make sense per download; the rest (output format, queue limits) are for the whole run. */
const PER_DOWNLOAD_KEYS = new Set([
  'output',
  'dir',
  'connections',
  'header',
  'checksum',
  'maxTries',
  'timeout',
  'overwrite',
  'local',
  'userAgent',
  'maxSpeed',
  'tracker',
  'peer',
  'mirror',
]);

export function parseInputFile(text: string, source: string): InputEntry[] {
  const entries: InputEntry[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) return;
    if (!/^\s/.test(raw)) {
      // As in aria2, URIs on one line separated by TABs are mirrors of one file.
      const [url, ...mirrors] = raw
        .split('\t')
        .map((uri) => uri.trim())
        .filter((uri) => uri !== '');
      entries.push({ url: url!, options: mirrors.length > 0 ? { mirrors } : {}, line: lineNumber });
      return;
    }
    const entry = entries.at(-1);
    if (entry === undefined) throw inputError(source, lineNumber, 'an option line comes before any URL');
    const equals = raw.indexOf('=');
    if (equals < 0) throw inputError(source, lineNumber, `expected key=value, not "${raw.trim()}"`);
    const name = raw.slice(0, equals).trim();
    const key = keyOf(name);
    const spec = GET_OPTIONS.find((option) => option.key === key);
    if (spec === undefined || !PER_DOWNLOAD_KEYS.has(key)) {
      throw inputError(source, lineNumber, `"${name}" is not an option of a download`);
    }
    setOption(entry.options, spec, raw.slice(equals + 1).trim(), source, lineNumber);
  });
  return entries;
}

function keyOf(name: string): string {
  return ARIA2_ALIASES[name] ?? name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function setOption(
  options: Record<string, unknown>,
  spec: OptionSpec,
  value: string,
  source: string,
  line: number,
): void {
  switch (spec.kind) {
    case 'list': {
      // `mirror=` lines add to the TAB-separated mirrors of the URL line.
      const key = spec.requestKey ?? spec.key;
      options[key] = [...((options[key] as string[] | undefined) ?? []), value];
      return;
    }
    case 'int':
    case 'seconds': {
      const number = Number(value);
      if (value === '' || !Number.isFinite(number))
        throw inputError(source, line, `${spec.key} must be a number, not "${value}"`);
      options[spec.key] = number;
      return;
    }
    case 'bool':
      if (value !== 'true' && value !== 'false')
        throw inputError(source, line, `${spec.key} must be true or false, not "${value}"`);
      options[spec.key] = value === 'true';
      return;
    default:
      options[spec.key] = value;
  }
}

function inputError(source: string, line: number, problem: string): DdmError {
  return new DdmError('USAGE', `${source}:${line}: ${problem}`, { details: { line } });
}
