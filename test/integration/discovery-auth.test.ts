/**
 * What a client does with what it finds on the LAN, without multicast: the browse is replaced by
 * a list of announcements, and real peers on 127.0.0.1 answer (or refuse) the signed GET /v1/info.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DownloadEvent } from '../../src/client/events.js';
import { findPeers, type SwarmOptions } from '../../src/client/swarm.js';
import type { LanAnnouncement } from '../../src/discovery/browser.js';
import { type Peer, startPeer } from '../../src/peer/peer-server.js';
import { deriveKey } from '../../src/protocol/auth.js';

const SECRET = 'discovery-test-secret-0123456789';
const key = deriveKey(SECRET);
const strangerKey = deriveKey('some-other-swarm-secret-0123456');

function announced(peer: Peer, claims: Partial<LanAnnouncement> = {}): LanAnnouncement {
  return {
    instance: `ddm-${peer.id}._ddm._tcp.local`,
    id: peer.id,
    name: 'claimed-name',
    slots: 4,
    protocol: 1,
    port: peer.address.port,
    addresses: ['127.0.0.1'],
    ...claims,
  };
}

function options(found: LanAnnouncement[], extra: Partial<SwarmOptions> = {}) {
  const events: DownloadEvent[] = [];
  const swarm: SwarmOptions = {
    trackers: [],
    peers: [],
    secret: SECRET,
    clientName: 'client',
    onEvent: (event) => events.push(event),
    discovery: { timeoutMs: 10, browse: async () => found },
    ...extra,
  };
  return { swarm, events };
}

describe('peers found on the LAN', () => {
  const controller = new AbortController();
  let member: Peer;
  let stranger: Peer;

  before(async () => {
    const common = {
      host: '127.0.0.1',
      port: 0,
      slots: 2,
      accept: 'auto',
      allowPrivate: true,
      trackers: [],
    } as const;
    member = await startPeer({ ...common, key, id: 'member-0000000001', name: 'member' }, controller.signal);
    stranger = await startPeer(
      { ...common, key: strangerKey, id: 'stranger-000000001', name: 'stranger' },
      controller.signal,
    );
  });

  after(async () => {
    controller.abort();
    await Promise.all([member.close(), stranger.close()]);
  });

  test('a member is used under the id and name it proves, not those it announces', async () => {
    const { swarm, events } = options([announced(member, { id: 'claimed-id-0000', name: 'liar' })]);
    const targets = await findPeers(swarm, key, controller.signal);
    assert.deepEqual(targets, [
      { id: member.id, name: 'member', url: `http://127.0.0.1:${member.address.port}` },
    ]);
    assert.ok(events.some((e) => e.type === 'notice' && /found on the LAN: member/.test(e.message)));
  });

  test('a peer with another secret is reported and not used', async () => {
    const { swarm, events } = options([announced(stranger, { name: 'stranger' })]);
    assert.deepEqual(await findPeers(swarm, key, controller.signal), []);
    const failed = events.find((e) => e.type === 'peer');
    assert.ok(failed?.type === 'peer');
    assert.equal(failed.status, 'failed');
    assert.equal(failed.label, 'stranger');
    assert.match(failed.message ?? '', /not a member of this swarm/);
  });

  test('found by --peer and on the LAN: one peer, at the --peer address', async () => {
    const direct = `http://localhost:${member.address.port}`;
    const { swarm } = options([announced(member)], { peers: [direct] });
    const targets = await findPeers(swarm, key, controller.signal);
    assert.deepEqual(targets, [{ id: member.id, name: 'member', url: direct }]);
  });

  test('an address that does not answer is skipped for the next one; none answering is reported', async () => {
    const closed = await startPeer(
      {
        host: '127.0.0.1',
        port: 0,
        key,
        id: 'closed-00000000001',
        name: 'gone',
        slots: 1,
        accept: 'auto',
        allowPrivate: true,
        trackers: [],
      },
      controller.signal,
    );
    const deadPort = closed.address.port;
    await closed.close();
    const twoAddresses = announced(member, { addresses: ['127.0.0.2', '127.0.0.1'] });
    const unreachable: LanAnnouncement = {
      ...announced(member),
      instance: 'gone',
      name: 'gone',
      port: deadPort,
    };
    const { swarm, events } = options([twoAddresses, unreachable]);
    const targets = await findPeers(swarm, key, controller.signal);
    assert.deepEqual(
      targets.map((target) => target.url),
      [`http://127.0.0.1:${member.address.port}`],
    );
    const failed = events.find((e) => e.type === 'peer' && e.label === 'gone');
    assert.ok(failed?.type === 'peer');
    assert.match(failed.message ?? '', /cannot be reached/);
  });
});
