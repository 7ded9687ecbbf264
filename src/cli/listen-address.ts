import { networkInterfaces } from 'node:os';
import { type InterfaceTable, reachableAddresses } from '../discovery/lan-interfaces.js';
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

/** The URL a server listens on as the user wrote it: `http://0.0.0.0:7800`, `http://[::]:7800`. */
export function listeningUrl(scheme: string, host: string, port: number): string {
  return `${scheme}//${hostPort(host, port)}`;
}

/** `HOST:PORT` as --listen takes it. */
function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** What an unspecified listen address takes (Node listens dual-stack on ::), or undefined. */
export function wildcardScope(host: string): string | undefined {
  if (host === '0.0.0.0') return 'every IPv4 address';
  if (host === '::') return 'every address, IPv4 and IPv6';
  return undefined;
}

/**
 * Where others reach a server that listens on every address: one URL per LAN address (with its
 * interface), then this machine's loopback. Empty for a specific listen address.
 */
export function reachableUrls(
  scheme: string,
  host: string,
  port: number,
  table: InterfaceTable = networkInterfaces(),
): string[] {
  if (wildcardScope(host) === undefined) return [];
  const lan = Object.entries(table).flatMap(([name, infos]) =>
    reachableAddresses(infos ?? [], host).map(
      (address) => `${listeningUrl(scheme, address, port)} (${name})`,
    ),
  );
  return [...lan, `${listeningUrl(scheme, '127.0.0.1', port)} (this machine)`];
}

/** A taken port names itself and how to choose another, in one line. */
export function explainListenFailure(error: unknown, host: string, port: number, role: string): unknown {
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (code !== 'EADDRINUSE') return error;
  const other = port > 0 && port < 65_535 ? port + 1 : 0;
  return new DdmError(
    'USAGE',
    `port ${port} on ${host} is taken (another ddm ${role}, or another program): choose another with --listen ${hostPort(host, other)}`,
    { cause: error },
  );
}

/**
 * `listening on URL`, where URL is what the server really bound (0.0.0.0 is not 127.0.0.1), then
 * where the LAN reaches it. `lead` starts the first line (`ddm peer: NAME`), `prefix` the second;
 * `extra` goes inside the parentheses of the first.
 */
export function printListening(
  where: { lead: string; prefix: string; host: string; boundUrl: string; port: number; extra?: string },
  output: { write(text: string): unknown },
): void {
  const scheme = new URL(where.boundUrl).protocol;
  const scope = wildcardScope(where.host);
  const url = scope === undefined ? where.boundUrl : listeningUrl(scheme, where.host, where.port);
  const notes = [scope, where.extra].filter(Boolean).join('; ');
  output.write(`${where.lead} listening on ${url}${notes ? ` (${notes})` : ''}\n`);
  const reachable = reachableUrls(scheme, where.host, where.port);
  if (reachable.length > 0) output.write(`${where.prefix}: reachable at ${reachable.join(', ')}\n`);
}
