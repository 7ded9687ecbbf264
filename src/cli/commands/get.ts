import { hostname } from 'node:os';
import { type DownloadOptions, download } from '../../client/download.js';
import type { DownloadEvent } from '../../client/events.js';
import { discoverSwarm } from '../../client/swarm.js';
import { DdmError, EXIT, isDdmError } from '../../errors.js';
import { parseChecksum } from '../../storage/download-store.js';
import { loadNodeTrust, type NodeTrust } from '../../util/tls.js';
import type { CommandContext } from '../context.js';
import { printError } from '../error-output.js';
import { humanRenderer } from '../render/human-output.js';
import { jsonLinesRenderer } from '../render/json-lines.js';
import { requireSecret } from '../require-secret.js';

export async function runGetCommand(
  values: Record<string, unknown>,
  context: CommandContext,
  args: string[],
): Promise<number> {
  const json = values.json === true;
  const quiet = values.quiet === true;
  const human = !json && !quiet ? humanRenderer(context.stderr) : undefined;
  const emitJson = json ? jsonLinesRenderer(context.stdout) : undefined;
  const onEvent = (event: DownloadEvent) => {
    human?.onEvent(event);
    emitJson?.(event);
  };
  let trust: NodeTrust | undefined;
  try {
    trust = await loadNodeTrust(
      { fingerprints: values.tlsFingerprint as string[], caFile: values.tlsCa as string | undefined },
      context.signal,
    );
    const options = buildOptions(values, args, onEvent, trust);
    await download(options, context.signal);
    return EXIT.OK;
  } catch (error) {
    human?.stop();
    if (emitJson) {
      const typed = isDdmError(error) ? error : undefined;
      emitJson({
        type: 'error',
        code: typed?.code ?? 'PROTOCOL',
        message: error instanceof Error ? error.message : String(error),
      });
    }
    return printError(error, context.stderr, values.verbose === true);
  } finally {
    await trust?.close();
  }
}

function buildOptions(
  values: Record<string, unknown>,
  args: string[],
  onEvent: (event: DownloadEvent) => void,
  trust: NodeTrust,
): DownloadOptions {
  const url = checkUrl(args[0]);
  if (values.output !== undefined && values.dir !== undefined) {
    throw new DdmError('USAGE', 'give either -o FILE or --dir DIR, not both');
  }
  const connections = values.connections as number;
  const trackers = values.tracker as string[];
  const peers = values.peer as string[];
  const secret = values.secret as string | undefined;
  const explicit = values.discover as boolean | undefined;
  if ((trackers.length > 0 || peers.length > 0 || explicit === true) && !secret) {
    throw new DdmError(
      'NO_SECRET',
      'using peers needs the swarm secret: pass --secret, set DDM_SECRET, or put "secret" in the config file',
    );
  }
  if (secret) requireSecret(secret, 'client of the swarm');
  // Without a secret there is no swarm to look for: a plain download of this machine alone.
  const discover = Boolean(secret) && (explicit ?? (trackers.length === 0 && peers.length === 0));
  const swarm = trackers.length > 0 || peers.length > 0 || discover;
  if (!swarm && values.local === false) {
    throw new DdmError(
      'USAGE',
      '--no-local needs peers: give --tracker or --peer, or the swarm secret to find peers on the LAN',
    );
  }
  const headers = parseHeaders(values.header as string[]);
  const options: DownloadOptions = {
    url,
    output: values.output as string | undefined,
    dir: values.dir as string | undefined,
    connections,
    headers,
    checksum: values.checksum === undefined ? undefined : parseChecksum(values.checksum as string),
    maxTries: values.maxTries as number,
    timeoutMs: (values.timeout as number) * 1000,
    overwrite: values.overwrite === true,
    local: values.local !== false,
    onEvent,
  };
  if (values.userAgent !== undefined) options.userAgent = values.userAgent as string;
  if (swarm) {
    options.swarm = (signal) =>
      discoverSwarm(
        {
          trackers,
          peers,
          secret: secret!,
          clientName: (values.name as string | undefined) ?? hostname(),
          onEvent,
          timeoutMs: (values.timeout as number) * 1000,
          dispatcher: trust.dispatcher,
          ...(discover ? { discovery: { timeoutMs: (values.discoverTimeout as number) * 1000 } } : {}),
        },
        signal,
      );
  }
  return options;
}

function checkUrl(raw: string | undefined): string {
  if (!raw) throw new DdmError('USAGE', 'missing URL: ddm get URL');
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new DdmError('URL_INVALID', `not a valid URL: ${raw}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new DdmError(
      'URL_INVALID',
      `only http and https URLs are supported, not ${parsed.protocol.replace(':', '')}`,
    );
  }
  return parsed.href;
}

function parseHeaders(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new DdmError('USAGE', `--header must look like "Name: value", not "${line}"`);
    }
    const value = line.slice(colon + 1).trim();
    if (/[\r\n\0]/.test(value))
      throw new DdmError('USAGE', `--header value for ${name} contains a line break`);
    headers[name.toLowerCase()] = value;
  }
  return headers;
}
