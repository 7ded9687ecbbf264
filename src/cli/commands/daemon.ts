import { resolve } from 'node:path';
import { startDaemon } from '../../daemon/daemon.js';
import { defaultStateDir } from '../../daemon/state-dir.js';
import { DdmError, EXIT } from '../../errors.js';
import { loadNodeTrust, type NodeTrust } from '../../util/tls.js';
import type { CommandContext } from '../context.js';
import { printError } from '../error-output.js';
import { parseListen } from '../listen-address.js';
import { waitForStop } from '../wait-for-stop.js';

export async function runDaemonCommand(
  values: Record<string, unknown>,
  context: CommandContext,
): Promise<number> {
  let trust: NodeTrust | undefined;
  try {
    const { host, port } = parseListen(values.listen as string);
    trust = await loadNodeTrust(
      { fingerprints: values.tlsFingerprint as string[], caFile: values.tlsCa as string | undefined },
      context.signal,
    );
    const stateDir = (values.stateDir as string | undefined) ?? defaultStateDir(context.env);
    const daemon = await startDaemon({
      host,
      port,
      dir: resolve((values.dir as string | undefined) ?? '.'),
      ...(values.maxActive === undefined ? {} : { maxActive: values.maxActive as number }),
      stateDir,
      peerDispatcher: trust.dispatcher,
      ...rpcOptions(values),
    });
    context.stderr.write(`ddm daemon: listening on ${daemon.url} (session ${daemon.sessionPath})\n`);
    context.stderr.write(
      `ddm daemon: JSON-RPC at ${daemon.url}/jsonrpc (ws://${daemon.url.slice(7)}/jsonrpc)\n`,
    );
    context.stderr.write(
      `ddm daemon: RPC secret ${daemon.secretPath ? `in ${daemon.secretPath}` : 'from --rpc-secret'}\n`,
    );
    context.stderr.write(`ddm daemon: web UI at ${daemon.uiLoginUrl()}\n`);
    await Promise.race([waitForStop(context.signal), daemon.stopRequested]);
    context.stderr.write('ddm daemon: stopping (checkpointing active downloads)\n');
    await daemon.close();
    context.stderr.write('ddm daemon: stopped\n');
    return EXIT.OK;
  } catch (error) {
    return printError(error, context.stderr, values.verbose === true);
  } finally {
    await trust?.close();
  }
}

function rpcOptions(values: Record<string, unknown>): { rpcSecret?: string; rpcAllowOrigins: string[] } {
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
  };
}
