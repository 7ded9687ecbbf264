/**
 * The client chooses its helpers: at most maxHelpers asked or helping at once, best candidates
 * first, and those that refuse or keep answering busy replaced by the next ones.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HelperPool, rankCandidates } from '../../src/client/helper-pool.js';
import { PEER_SLOT_FAILURES, type PeerTarget } from '../../src/client/peer-source.js';
import type { RangeSource, SourcePlan } from '../../src/client/range-source.js';
import { HELPER_BUSY_REPLACE_MS } from '../../src/constants.js';
import { DdmError } from '../../src/errors.js';
import { eventually } from '../helpers/wait.js';

const freeSlots = new Map<string, number>();
const freeSlotsOf = (peer: PeerTarget) => freeSlots.get(peer.id);

function target(id: string, free?: number): PeerTarget {
  if (free !== undefined) freeSlots.set(id, free);
  return { id, name: id, url: `http://127.0.0.1:1/${id}` };
}

function busySource(id: string): RangeSource {
  return {
    id: `peer:${id}`,
    label: id,
    kind: 'peer',
    failurePolicy: PEER_SLOT_FAILURES,
    open: async () => {
      throw new DdmError('PEER_BUSY', 'busy', { retryable: true });
    },
  };
}

test('candidates with free slots come first, busy ones are left out', () => {
  const ranked = rankCandidates(
    [target('none', 0), target('unknown'), target('two', 2), target('four', 4)],
    freeSlotsOf,
  );
  assert.deepEqual(
    ranked.map((peer) => peer.id),
    ['four', 'two', 'unknown'],
  );
});

test('at most maxHelpers at once; refusals and helpers busy for too long are replaced', async () => {
  let clock = 1_000_000;
  let asking = 0;
  let mostAtOnce = 0;
  /** Helpers the pool has let go (the test knows when it makes one give way). */
  let retired = 0;
  const added: SourcePlan[] = [];
  const releases: (() => void)[] = [];
  const pool = new HelperPool({
    maxHelpers: 2,
    freeSlotsOf,
    now: () => clock,
    survey: async () => [],
    engage: async (peer) => {
      asking += 1;
      mostAtOnce = Math.max(mostAtOnce, asking + added.length - retired);
      await new Promise<void>((resolve) => releases.push(resolve));
      asking -= 1;
      if (peer.id === 'refuses') return undefined;
      return { source: busySource(peer.id), slots: 4 };
    },
    add: (plan) => added.push(plan),
  });
  pool.consider([target('refuses', 4), target('busy', 3), target('next', 2), target('last', 1)]);
  const controller = new AbortController();
  const running = pool.run(controller.signal);
  await eventually(() => releases.length === 2, 5_000, 'two asked at once');
  for (const release of releases.splice(0)) release();
  // 'refuses' gave way to 'next'; 'busy' helps.
  await eventually(() => releases.length === 1, 5_000, 'the refusal replaced');
  assert.deepEqual(
    added.map((plan) => plan.source.id),
    ['peer:busy'],
  );
  releases.shift()!();
  await eventually(() => added.length === 2, 5_000, 'next helps too');
  const busy = added[0]!.source;
  await assert.rejects(busy.open({ start: 0, end: 1 }, controller.signal), /busy/);
  retired += 1;
  clock += HELPER_BUSY_REPLACE_MS;
  await eventually(() => releases.length === 1, 10_000, 'the busy helper replaced by the last one');
  await assert.rejects(busy.open({ start: 0, end: 1 }, controller.signal), (error: DdmError) => {
    assert.equal(error.code, 'PEER_REFUSED');
    assert.match(error.message, /replaced by another helper: busy for 10 s/);
    return true;
  });
  releases.shift()!();
  await eventually(() => added.length === 3, 5_000, 'last helps');
  assert.ok(mostAtOnce <= 2, `${mostAtOnce} at once`);
  controller.abort();
  await running;
});
