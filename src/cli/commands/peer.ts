import { hostname } from 'node:os';
import { DdmError, EXIT } from '../../errors.js';
import { announcePeer } from '../../peer/lan-presence.js';
import { startPeer } from '../../peer/peer-server.js';
import { deriveKey } from '../../protocol/auth.js';
import { parseByteRate } from '../../util/byte-rate.js';
import { newNodeId } from '../../util/node-id.js';
import { loadNodeTrust, loadServerTls, type NodeTrust } from '../../util/tls.js';
import type { CommandContext } from '../context.js';
import { printError } from '../error-output.js';
import { explainListenFailure, parseListen, printListening } from '../listen-address.js';
import { createLogger, type LogFormat } from '../logger.js';
import { requireSecret } from '../require-secret.js';
import { waitForStop } from '../wait-for-stop.js';

export async function runPeerCommand(
  values: Record<string, unknown>,
  context: CommandContext,
): Promise<number> {
  let trust: NodeTrust | undefined;
  try {
    const secret = requireSecret(values.secret, 'peer');
    const { host, port } = parseListen(values.listen as string);
    const slots = values.slots as number;
    const name = ((values.name as string | undefined) ?? hostname()).slice(0, 64);
    const log = createLogger(
      'ddm-peer',
      values.verbose === true,
      values.logFormat as LogFormat,
      context.stderr,
    );
    const accept = values.accept as 'auto' | 'ask' | 'never';
    // Without a terminal every question would be answered "no" in silence: a peer that never helps.
    if (accept === 'ask' && context.stdin.isTTY !== true) {
      throw new DdmError(
        'USAGE',
        '--accept ask needs a terminal to ask on, and stdin is not one: start the peer in a terminal, or use --accept auto or --accept never',
      );
    }
    const id = newNodeId();
    const tls = await loadServerTls(
      { certFile: values.tlsCert as string | undefined, keyFile: values.tlsKey as string | undefined },
      context.signal,
    );
    trust = await loadNodeTrust(
      { fingerprints: values.tlsFingerprint as string[], caFile: values.tlsCa as string | undefined },
      context.signal,
    );
    const peer = await startPeer(
      {
        host,
        port,
        key: deriveKey(secret),
        id,
        name,
        slots,
        accept,
        allowPrivate: values.allowPrivate === true,
        trackers: values.tracker as string[],
        maxUploadBytesPerSec: uploadLimit(values.maxUpload),
        log,
        trust,
        ...(tls ? { tls } : {}),
      },
      context.signal,
    ).catch((error: unknown) => {
      throw explainListenFailure(error, host, port, 'peer');
    });
    printListening(
      {
        lead: `ddm peer: ${name}`,
        prefix: 'ddm peer',
        host,
        boundUrl: peer.url,
        port: peer.address.port,
        extra: `accept ${accept}, ${slots} slots`,
      },
      context.stderr,
    );
    if (tls) context.stderr.write(`ddm peer: certificate SHA-256 fingerprint ${tls.fingerprint}\n`);
    const announcer =
      values.announce === false
        ? undefined
        : announcePeer(
            {
              id,
              name,
              slots,
              host,
              port: peer.address.port,
              tls: tls !== undefined,
              onProblem: (message) => log.warn(message),
            },
            (line) => context.stderr.write(`ddm peer: ${line}\n`),
            context.signal,
          );
    await waitForStop(context.signal);
    // Goodbye first, so that browsing clients stop counting on this peer before it goes.
    await announcer?.stop();
    await peer.close();
    context.stderr.write('ddm peer: stopped\n');
    return EXIT.OK;
  } catch (error) {
    return printError(error, context.stderr, values.verbose === true);
  } finally {
    await trust?.close();
  }
}

function uploadLimit(value: unknown): number {
  if (value === undefined) return 0;
  const rate = parseByteRate(String(value));
  if (rate === undefined) {
    throw new DdmError('USAGE', `--max-upload must be a speed like 500K or 2M, not "${String(value)}"`);
  }
  return rate;
}
