/**
 * The demo's swarm: a tracker and three peers, in this process, on 127.0.0.1. Peers run with
 * private addresses allowed, since the demo origin is on loopback.
 */

import { DdmError } from '../errors.js';
import { type Peer, startPeer } from '../peer/peer-server.js';
import { deriveKey, newSecret, type SwarmKey } from '../protocol/auth.js';
import { TrackerClient } from '../tracker/tracker-client.js';
import { startTracker } from '../tracker/tracker-server.js';
import { sleep } from '../util/abort.js';
import { newNodeId } from '../util/node-id.js';

export const DEMO_PEER_COUNT = 3;
const DEMO_PEER_SLOTS = 4;
/** How long the demo waits for its peers to appear in its tracker. */
const DEMO_REGISTRATION_TIMEOUT_MS = 10_000;
const DEMO_POLL_MS = 50;

export interface DemoSwarm {
  secret: string;
  trackerUrl: string;
  close(): Promise<void>;
}

export async function startDemoSwarm(signal: AbortSignal): Promise<DemoSwarm> {
  const secret = newSecret();
  const key = deriveKey(secret);
  const tracker = await startTracker({ host: '127.0.0.1', port: 0, key }, signal);
  const peers: Peer[] = [];
  try {
    for (let i = 1; i <= DEMO_PEER_COUNT; i++) {
      peers.push(
        await startPeer(
          {
            host: '127.0.0.1',
            port: 0,
            key,
            id: newNodeId(),
            name: `helper-${i}`,
            slots: DEMO_PEER_SLOTS,
            accept: 'auto',
            allowPrivate: true,
            trackers: [tracker.url],
          },
          signal,
        ),
      );
    }
    await waitForRegistrations(tracker.url, key, signal);
  } catch (error) {
    await Promise.all(peers.map((peer) => peer.close()));
    await tracker.close();
    throw error;
  }
  return {
    secret,
    trackerUrl: tracker.url,
    close: async () => {
      await Promise.all(peers.map((peer) => peer.close()));
      await tracker.close();
    },
  };
}

async function waitForRegistrations(trackerUrl: string, key: SwarmKey, signal: AbortSignal): Promise<void> {
  const client = new TrackerClient(trackerUrl, key);
  const deadline = Date.now() + DEMO_REGISTRATION_TIMEOUT_MS;
  while ((await client.list(signal)).length < DEMO_PEER_COUNT) {
    if (Date.now() > deadline) throw new DdmError('PEER_FAILED', 'the demo peers did not register in time');
    await sleep(DEMO_POLL_MS, signal);
  }
}
