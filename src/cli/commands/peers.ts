/**
 * `ddm peers`: one look for peers through the engine's peer directory, the way `ddm get` finds
 * them (the same trackers' sample, the same proof by signed /v1/info, the same merge), printed.
 * A tracker that cannot be asked is reported and the others' answers are still shown; only when
 * nothing at all could be asked does the command fail.
 */
import type { DownloadEvent } from '../../client/events.js';
import type { PeerTarget } from '../../client/peer-source.js';
import type { PeerSurvey } from '../../client/swarm.js';
import { createEngine, type Engine } from '../../engine/engine.js';
import { DdmError, EXIT } from '../../errors.js';
import { loadNodeTrust, type NodeTrust } from '../../transport/client/node-trust.js';
import type { CommandContext } from '../context.js';
import { printError } from '../error-output.js';
import { withFlagNames } from '../request-flags.js';
import { requireSecret } from '../require-secret.js';

interface ListedPeer {
  id: string;
  name: string;
  url: string;
  address: string;
  port: number;
  tls?: true;
  slots: number | null;
  freeSlots: number | null;
  version: string | null;
  /** When it proved itself (ms since the epoch): just now. */
  lastSeen: number;
  /** Tracker URLs, "peer" (--peer) and/or "mdns". */
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
  let engine: Engine | undefined;
  try {
    const trackers = values.tracker as string[];
    const peers = values.peer as string[];
    const discover =
      (values.discover as boolean | undefined) ?? (trackers.length === 0 && peers.length === 0);
    if (trackers.length === 0 && peers.length === 0 && !discover) {
      throw new DdmError(
        'USAGE',
        'give at least one --tracker or --peer URL (or "tracker" in the config file), or leave out --no-discover',
      );
    }
    const secret = requireSecret(values.secret, 'client of the swarm');
    trust = await loadNodeTrust(
      { fingerprints: values.tlsFingerprint as string[], caFile: values.tlsCa as string | undefined },
      context.signal,
    );
    engine = createEngine({ signal: context.signal, peerDispatcher: trust.dispatcher });
    const rejected: RejectedPeer[] = [];
    const notices: string[] = [];
    const onEvent = (event: DownloadEvent) => {
      if (event.type === 'notice') notices.push(event.message);
      if (event.type === 'peer' && event.status === 'failed') {
        rejected.push({ name: event.label, url: event.url ?? event.source, message: event.message ?? '' });
      }
    };
    const survey = await engine.lookForPeers(
      {
        tracker: trackers,
        peer: peers,
        discover,
        discoverTimeout: values.discoverTimeout as number,
        secret,
      },
      context.signal,
      onEvent,
    );
    failIfNobodyAnswered(survey, trackers, peers, discover);
    const listed = survey.peers.map(listedPeer).sort((a, b) => a.name.localeCompare(b.name));
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify({ peers: listed, rejected })}\n`);
    } else {
      context.stdout.write(table(listed));
    }
    for (const notice of notices) context.stderr.write(`ddm peers: ${notice}\n`);
    if (values.json !== true) {
      for (const peer of rejected) context.stderr.write(`ddm peers: not used: ${peer.message}\n`);
    }
    return EXIT.OK;
  } catch (error) {
    return printError(withFlagNames(error), context.stderr, values.verbose === true);
  } finally {
    await engine?.close();
    await trust?.close();
  }
}

/**
 * Every tracker down and nothing else to ask: the list would be empty for a reason the user must
 * see, so the first tracker's error is the command's (its code gives the exit status).
 */
function failIfNobodyAnswered(
  survey: PeerSurvey,
  trackers: readonly string[],
  peers: readonly string[],
  discover: boolean,
): void {
  const first = survey.unreachable[0];
  if (first === undefined || survey.unreachable.length < trackers.length) return;
  if (peers.length > 0 || discover || survey.peers.length > 0) return;
  throw first.error;
}

function listedPeer(target: PeerTarget): ListedPeer {
  const url = new URL(target.url);
  const https = url.protocol === 'https:';
  return {
    id: target.id,
    name: target.name,
    url: target.url,
    address: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || (https ? 443 : 80)),
    ...(https ? { tls: true as const } : {}),
    slots: target.slots ?? null,
    freeSlots: target.freeSlots ?? null,
    version: target.version ?? null,
    lastSeen: Date.now(),
    foundBy: target.foundBy ?? [],
  };
}

function table(peers: readonly ListedPeer[]): string {
  if (peers.length === 0) return 'no peers\n';
  const rows = [['NAME', 'ADDRESS', 'SLOTS', 'FREE', 'VERSION', 'FOUND BY', 'ID']];
  for (const peer of peers) {
    const address = peer.address.includes(':')
      ? `[${peer.address}]:${peer.port}`
      : `${peer.address}:${peer.port}`;
    const shown = peer.tls ? `https://${address}` : address;
    const count = (value: number | null) => (value === null ? '?' : String(value));
    rows.push([
      peer.name,
      shown,
      count(peer.slots),
      count(peer.freeSlots),
      peer.version ?? '?',
      peer.foundBy.join(', '),
      peer.id,
    ]);
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
