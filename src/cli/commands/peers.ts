import type { Dispatcher } from 'undici';
import type { DiscoveryVerdict } from '../../discovery/authenticate.js';
import { discoverOnLan } from '../../discovery/lan-discovery.js';
import { FOUND_ON_LAN, mergeSightings, type Sighting } from '../../discovery/peer-merge.js';
import { DdmError, EXIT } from '../../errors.js';
import { deriveKey, type SwarmKey } from '../../protocol/auth.js';
import type { PeerRecord } from '../../protocol/messages.js';
import { TrackerClient } from '../../tracker/tracker-client.js';
import { loadNodeTrust, type NodeTrust } from '../../transport/client/node-trust.js';
import type { CommandContext } from '../context.js';
import { printError } from '../error-output.js';
import { requireSecret } from '../require-secret.js';

interface ListedPeer extends PeerRecord {
  /** Tracker URLs and/or "mdns". */
  foundBy: string[];
}

interface RejectedPeer {
  name: string;
  url: string;
  message: string;
}

export async function runPeersCommand(
  values: Record<string, unknown>,
  context: CommandContext,
): Promise<number> {
  let trust: NodeTrust | undefined;
  try {
    const trackers = values.tracker as string[];
    const discover = (values.discover as boolean | undefined) ?? trackers.length === 0;
    if (trackers.length === 0 && !discover) {
      throw new DdmError(
        'USAGE',
        'give at least one --tracker URL (or "tracker" in the config file), or leave out --no-discover',
      );
    }
    const key = deriveKey(requireSecret(values.secret, 'client of the swarm'));
    trust = await loadNodeTrust(
      { fingerprints: values.tlsFingerprint as string[], caFile: values.tlsCa as string | undefined },
      context.signal,
    );
    const { dispatcher } = trust;
    const [listed, verdicts] = await Promise.all([
      listTrackers(trackers, key, dispatcher, context.signal),
      discover ? browse(values, key, dispatcher, context) : Promise.resolve([]),
    ]);
    const sightings: Sighting<PeerRecord>[] = [...listed];
    const rejected: RejectedPeer[] = [];
    for (const verdict of verdicts) {
      if (verdict.kind === 'member')
        sightings.push({ id: verdict.info.id, via: FOUND_ON_LAN, value: lanRecord(verdict) });
      else rejected.push({ name: verdict.announcement.name, url: verdict.url, message: verdict.message });
    }
    // The freshest sighting of a peer gives its address.
    sightings.sort((a, b) => b.value.lastSeen - a.value.lastSeen);
    const peers: ListedPeer[] = mergeSightings(sightings)
      .map((peer) => ({ ...peer.value, foundBy: peer.foundBy }))
      .sort((a, b) => a.name.localeCompare(b.name));
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify({ peers, rejected })}\n`);
    } else {
      context.stdout.write(table(peers));
      for (const peer of rejected) context.stderr.write(`ddm peers: not used: ${peer.message}\n`);
    }
    return EXIT.OK;
  } catch (error) {
    return printError(error, context.stderr, values.verbose === true);
  } finally {
    await trust?.close();
  }
}

async function listTrackers(
  trackers: readonly string[],
  key: SwarmKey,
  dispatcher: Dispatcher,
  signal: AbortSignal,
): Promise<Sighting<PeerRecord>[]> {
  const lists = await Promise.all(
    trackers.map((tracker) => new TrackerClient(tracker, key, { dispatcher }).list(signal)),
  );
  return lists.flatMap((records, index) =>
    records.map((record) => ({ id: record.id, via: trackers[index]!, value: record })),
  );
}

function browse(
  values: Record<string, unknown>,
  key: SwarmKey,
  dispatcher: Dispatcher,
  context: CommandContext,
) {
  return discoverOnLan(
    {
      key,
      dispatcher,
      timeoutMs: (values.discoverTimeout as number) * 1000,
      onProblem: (message) => context.stderr.write(`ddm peers: LAN discovery: ${message}\n`),
    },
    context.signal,
  );
}

function lanRecord(verdict: Extract<DiscoveryVerdict, { kind: 'member' }>): PeerRecord {
  return {
    id: verdict.info.id,
    name: verdict.info.name,
    address: verdict.address,
    port: verdict.announcement.port,
    slots: verdict.info.slots,
    version: verdict.info.version,
    ...(verdict.url.startsWith('https:') ? { tls: true } : {}),
    // It answered just now.
    lastSeen: Date.now(),
  };
}

function table(peers: readonly ListedPeer[]): string {
  if (peers.length === 0) return 'no peers\n';
  const rows = [['NAME', 'ADDRESS', 'SLOTS', 'VERSION', 'LAST SEEN', 'FOUND BY', 'ID']];
  const now = Date.now();
  for (const peer of peers) {
    const address = peer.address.includes(':')
      ? `[${peer.address}]:${peer.port}`
      : `${peer.address}:${peer.port}`;
    const ago = `${Math.max(0, Math.round((now - peer.lastSeen) / 1000))}s ago`;
    rows.push([peer.name, address, String(peer.slots), peer.version, ago, peer.foundBy.join(', '), peer.id]);
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
