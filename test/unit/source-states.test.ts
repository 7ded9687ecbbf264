/**
 * What a download says of each source: a peer being asked, one that accepted and has not
 * delivered, one that refused (and why), one that left the swarm; the workers' stats the rest.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkerStats } from '../../src/client/events.js';
import { SourceStates } from '../../src/engine/source-states.js';

function worker(source: string, extra: Partial<WorkerStats> = {}): WorkerStats {
  return {
    source,
    label: source,
    kind: 'peer',
    bytes: 0,
    rateBps: 0,
    active: 0,
    failures: 0,
    dropped: false,
    ...extra,
  };
}

describe('source states', () => {
  test('asking, then refused with the reason, for a peer that never became a worker', () => {
    const states = new SourceStates();
    states.heard({ type: 'peer', source: 'peer:a', label: 'a', status: 'asking' });
    assert.deepEqual(
      states.statuses([]).map((s) => [s.id, s.state, s.reason]),
      [['peer:a', 'asking', undefined]],
    );
    states.heard({
      type: 'peer',
      source: 'peer:a',
      label: 'a',
      status: 'refused',
      message: 'the operator said no',
    });
    assert.deepEqual(
      states.statuses([]).map((s) => [s.id, s.state, s.reason]),
      [['peer:a', 'refused', 'the operator said no']],
    );
  });

  test('accepted until it delivers, then active or idle; left the swarm: dropped without a failure', () => {
    const states = new SourceStates();
    states.heard({ type: 'peer', source: 'peer:b', label: 'b', status: 'accepted' });
    assert.equal(states.statuses([worker('peer:b')])[0]?.state, 'accepted');
    assert.equal(states.statuses([worker('peer:b', { bytes: 10, active: 1 })])[0]?.state, 'active');
    assert.equal(states.statuses([worker('peer:b', { bytes: 10 })])[0]?.state, 'idle');
    states.departed('peer:b', 'b');
    const [gone] = states.statuses([worker('peer:b', { bytes: 10 })]);
    assert.deepEqual([gone?.state, gone?.reason, gone?.failures], ['dropped', 'left the swarm', 0]);
  });

  test('a worker dropped for its failures says why', () => {
    const states = new SourceStates();
    const [dropped] = states.statuses([
      worker('peer:c', { dropped: true, failures: 3, lastError: 'timed out' }),
    ]);
    assert.deepEqual([dropped?.state, dropped?.reason], ['dropped', 'timed out']);
  });
});
