import { MIN_HEARTBEAT_INTERVAL_MS, trackerTtlMs } from '../../constants.js';
import { DdmError, EXIT } from '../../errors.js';
import { deriveKey } from '../../protocol/auth.js';
import { applyTrackerHeapFlags } from '../../tracker/heap-flags.js';
import { startTracker } from '../../tracker/tracker-server.js';
import { loadServerTls } from '../../transport/server/server-tls.js';
import type { CommandContext } from '../context.js';
import { printError } from '../error-output.js';
import { explainListenFailure, parseListen, printListening } from '../listen-address.js';
import { createLogger, type LogFormat } from '../logger.js';
import { requireSecret } from '../require-secret.js';
import { waitForStop } from '../wait-for-stop.js';

export async function runTrackerCommand(
  values: Record<string, unknown>,
  context: CommandContext,
): Promise<number> {
  applyTrackerHeapFlags();
  try {
    const secret = requireSecret(values.secret, 'tracker');
    const { host, port } = parseListen(values.listen as string);
    const log = createLogger(
      'ddm-tracker',
      values.verbose === true,
      values.logFormat as LogFormat,
      context.stderr,
    );
    const heartbeatMs = Math.round((values.heartbeat as number) * 1000);
    if (heartbeatMs < MIN_HEARTBEAT_INTERVAL_MS) {
      throw new DdmError('USAGE', `--heartbeat must be at least ${MIN_HEARTBEAT_INTERVAL_MS / 1000} seconds`);
    }
    const tls = await loadServerTls(
      { certFile: values.tlsCert as string | undefined, keyFile: values.tlsKey as string | undefined },
      context.signal,
    );
    const tracker = await startTracker(
      {
        host,
        port,
        key: deriveKey(secret),
        log,
        heartbeatMs,
        ttlMs: trackerTtlMs(heartbeatMs),
        store: values.store as string,
        maxPeers: values.maxPeers as number,
        maxPeersPerAddress: values.maxPeersPerAddress as number,
        ...(tls ? { tls } : {}),
      },
      context.signal,
    ).catch((error: unknown) => {
      throw explainListenFailure(error, host, port, 'tracker');
    });
    printListening(
      {
        lead: 'ddm tracker:',
        prefix: 'ddm tracker',
        host,
        boundUrl: tracker.url,
        port: tracker.address.port,
      },
      context.stderr,
    );
    if (tls) context.stderr.write(`ddm tracker: certificate SHA-256 fingerprint ${tls.fingerprint}\n`);
    await waitForStop(context.signal);
    await tracker.close();
    context.stderr.write('ddm tracker: stopped\n');
    return EXIT.OK;
  } catch (error) {
    return printError(error, context.stderr, values.verbose === true);
  }
}
