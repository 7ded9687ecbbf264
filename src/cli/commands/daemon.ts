import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { startDaemon } from '../../daemon/daemon.js';
import type { SettingsOverrides } from '../../daemon/settings.js';
import { defaultStateDir } from '../../daemon/state-dir.js';
import { DdmError, EXIT } from '../../errors.js';
import { parseByteRate } from '../../util/byte-rate.js';
import { commandLineFor } from '../command-line.js';
import type { CommandContext } from '../context.js';
import { printError } from '../error-output.js';
import { parseListen } from '../listen-address.js';
import { requireSecret } from '../require-secret.js';
import { waitForStop } from '../wait-for-stop.js';

export async function runDaemonCommand(
  values: Record<string, unknown>,
  context: CommandContext,
): Promise<number> {
  try {
    const { host, port } = parseListen(values.listen as string);
    const stateDir = (values.stateDir as string | undefined) ?? defaultStateDir(context.env);
    const daemon = await startDaemon({
      host,
      port,
      ...(values.dir === undefined ? {} : { dir: resolve(values.dir as string) }),
      ...(values.maxActive === undefined ? {} : { maxActive: values.maxActive as number }),
      settings: overridesFrom(values),
      stateDir,
      ...(values.tlsCa === undefined ? {} : { tlsCa: values.tlsCa as string }),
      allowPrivate: values.allowPrivate === true,
      helperName: ((values.name as string | undefined) ?? hostname()).slice(0, 64),
      report: (line) => context.stderr.write(`ddm daemon: ${line}\n`),
      ...rpcOptions(values),
    });
    context.stderr.write(`ddm daemon: listening on ${daemon.url} (session ${daemon.sessionPath})\n`);
    context.stderr.write(
      `ddm daemon: JSON-RPC at ${daemon.url}/jsonrpc (ws://${daemon.url.slice(7)}/jsonrpc)\n`,
    );
    context.stderr.write(`ddm daemon: ${describeRpcSecret(daemon, context.stderr.isTTY === true)}\n`);
    const helper = daemon.helper.status();
    if (helper.enabled) {
      context.stderr.write(
        `ddm daemon: helping as ${helper.name} at ${helper.url} (accept ${helper.accept}, ${helper.slots} slots)\n`,
      );
    }
    context.stderr.write(`ddm daemon: web UI at ${daemon.uiLoginUrl()}\n`);
    await Promise.race([waitForStop(context.signal), daemon.stopRequested]);
    context.stderr.write('ddm daemon: stopping (checkpointing active downloads)\n');
    await daemon.close();
    context.stderr.write('ddm daemon: stopped\n');
    return EXIT.OK;
  } catch (error) {
    return printError(error, context.stderr, values.verbose === true);
  }
}

/**
 * Where the RPC's token comes from. On a terminal the secret itself is shown, for the person who
 * points AriaNg or a script at this daemon; in a service's log only the file that holds it (a log
 * is read by more people, and kept longer, than the 0600 file).
 */
function describeRpcSecret(
  daemon: { secret: string; secretPath?: string | undefined },
  onTerminal: boolean,
): string {
  const source = daemon.secretPath ? `in ${daemon.secretPath}` : 'from --rpc-secret';
  return onTerminal ? `RPC secret ${daemon.secret} (${source})` : `RPC secret ${source}`;
}

function rpcOptions(values: Record<string, unknown>): {
  rpcSecret?: string;
  rpcAllowOrigins: string[];
  commandLine: (request: Record<string, unknown>) => string;
} {
  const secret = values.rpcSecret as string | undefined;
  if (secret !== undefined && secret.length < 16) {
    throw new DdmError(
      'USAGE',
      '--rpc-secret must be at least 16 characters; `ddm secret` prints a good one',
    );
  }
  return {
    ...(secret === undefined ? {} : { rpcSecret: secret }),
    rpcAllowOrigins: (values.rpcAllowOrigin as string[] | undefined) ?? [],
    commandLine: commandLineFor,
  };
}

/** The flags given: each wins over its saved setting for this run. */
function overridesFrom(values: Record<string, unknown>): SettingsOverrides {
  const helper: SettingsOverrides['helper'] = {};
  if (values.helper === true) helper.enabled = true;
  if (values.accept !== undefined) helper.accept = values.accept as 'auto' | 'ask' | 'never';
  if (values.slots !== undefined) helper.slots = values.slots as number;
  if (values.maxUpload !== undefined) helper.maxUpload = rateOf('--max-upload', values.maxUpload);
  const list = (key: string) => (values[key] as string[] | undefined) ?? [];
  return {
    ...(Object.keys(helper).length > 0 ? { helper } : {}),
    ...(list('tracker').length > 0 ? { trackers: list('tracker') } : {}),
    ...(list('peer').length > 0 ? { peers: list('peer') } : {}),
    ...(list('tlsFingerprint').length > 0 ? { tlsFingerprints: list('tlsFingerprint') } : {}),
    ...(values.discover === undefined ? {} : { lanDiscovery: values.discover === true }),
    ...(values.secret === undefined ? {} : { swarmSecret: requireSecret(values.secret, 'daemon') }),
  };
}

function rateOf(flag: string, value: unknown): number {
  const rate = parseByteRate(String(value));
  if (rate === undefined) {
    throw new DdmError('USAGE', `${flag} must be a speed like 500K or 2M, not "${String(value)}"`);
  }
  return rate;
}
