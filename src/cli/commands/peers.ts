import { DdmError, EXIT } from '../../errors.js';
import { deriveKey } from '../../protocol/auth.js';
import type { PeerRecord } from '../../protocol/messages.js';
import { TrackerClient } from '../../tracker/tracker-client.js';
import type { CommandContext } from '../context.js';
import { printError } from '../error-output.js';
import { requireSecret } from '../require-secret.js';

interface ListedPeer extends PeerRecord {
  tracker: string;
}

export async function runPeersCommand(
  values: Record<string, unknown>,
  context: CommandContext,
): Promise<number> {
  try {
    const trackers = values.tracker as string[];
    if (trackers.length === 0)
      throw new DdmError('USAGE', 'give at least one --tracker URL (or "tracker" in the config file)');
    const key = deriveKey(requireSecret(values.secret, 'client of the swarm'));
    const listed = new Map<string, ListedPeer>();
    for (const tracker of trackers) {
      for (const record of await new TrackerClient(tracker, key).list(context.signal)) {
        const known = listed.get(record.id);
        if (!known || known.lastSeen < record.lastSeen) listed.set(record.id, { ...record, tracker });
      }
    }
    const peers = [...listed.values()].sort((a, b) => a.name.localeCompare(b.name));
    context.stdout.write(values.json === true ? `${JSON.stringify({ peers })}\n` : table(peers));
    return EXIT.OK;
  } catch (error) {
    return printError(error, context.stderr, values.verbose === true);
  }
}

function table(peers: readonly ListedPeer[]): string {
  if (peers.length === 0) return 'no peers\n';
  const rows = [['NAME', 'ADDRESS', 'SLOTS', 'VERSION', 'LAST SEEN', 'ID']];
  const now = Date.now();
  for (const peer of peers) {
    const address = peer.address.includes(':')
      ? `[${peer.address}]:${peer.port}`
      : `${peer.address}:${peer.port}`;
    const ago = `${Math.max(0, Math.round((now - peer.lastSeen) / 1000))}s ago`;
    rows.push([peer.name, address, String(peer.slots), peer.version, ago, peer.id]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return `${rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}
