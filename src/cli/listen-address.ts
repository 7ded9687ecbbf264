import { DdmError } from '../errors.js';

/** Parses `HOST:PORT` or `[IPv6]:PORT`; port 0 picks a free port. */
export function parseListen(value: string): { host: string; port: number } {
  const match = value.match(/^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65_535) {
    throw new DdmError(
      'USAGE',
      `--listen must be HOST:PORT (e.g. 0.0.0.0:7801 or [::]:7801), not "${value}"`,
    );
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}
