import { hostname } from 'node:os';
import { MAX_PEER_SLOTS } from '../../constants.js';
import { DdmError, EXIT } from '../../errors.js';
import { startPeer } from '../../peer/peer-server.js';
import { deriveKey } from '../../protocol/auth.js';
import { newNodeId } from '../../util/node-id.js';
import type { CommandContext } from '../context.js';
import { printError } from '../error-output.js';
import { parseListen } from '../listen-address.js';
import { createLogger } from '../logger.js';
import { requireSecret } from '../require-secret.js';
import { waitForStop } from '../wait-for-stop.js';

export async function runPeerCommand(
  values: Record<string, unknown>,
  context: CommandContext,
): Promise<number> {
  try {
    const secret = requireSecret(values.secret, 'peer');
    const { host, port } = parseListen(values.listen as string);
    const slots = values.slots as number;
    if (slots > MAX_PEER_SLOTS) throw new DdmError('USAGE', `--slots must be at most ${MAX_PEER_SLOTS}`);
    const name = ((values.name as string | undefined) ?? hostname()).slice(0, 64);
    const log = createLogger('ddm-peer', values.verbose === true);
    const accept = values.accept as 'auto' | 'ask' | 'never';
    const peer = await startPeer(
      {
        host,
        port,
        key: deriveKey(secret),
        id: newNodeId(),
        name,
        slots,
        accept,
        allowPrivate: values.allowPrivate === true,
        trackers: values.tracker as string[],
        log,
      },
      context.signal,
    );
    context.stderr.write(`ddm peer: ${name} listening on ${peer.url} (accept ${accept}, ${slots} slots)\n`);
    await waitForStop(context.signal);
    await peer.close();
    context.stderr.write('ddm peer: stopped\n');
    return EXIT.OK;
  } catch (error) {
    return printError(error, context.stderr, values.verbose === true);
  }
}
