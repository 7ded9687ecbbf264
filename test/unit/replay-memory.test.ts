/**
 * Replay protection that scales with the swarm: the nonce memory has a budget per sender and a
 * size set by the swarm the node serves, and forgets by the requests' own timestamps. A member
 * that floods meets its own budget while the others still get in; a busy swarm signing faster
 * than the old shared bound allowed (200,000 nonces for two windows, ~1,667 requests/s) for
 * minutes is never refused.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  AUTH_WINDOW_MS,
  MAX_TRACKER_PEERS,
  REPLAY_NONCES_PER_SOURCE,
  replayCapacityFor,
} from '../../src/constants.js';
import { ANY_NODE, deriveKey, RequestVerifier, signRequest } from '../../src/protocol/auth.js';
import { ReplayMemory } from '../../src/protocol/replay-memory.js';

const key = deriveKey('replay memory test secret');
const START = 1_700_000_000_000;
const TARGET = { authority: '127.0.0.1:7800', node: ANY_NODE };
const BODY = '{"id":"peer-0001"}';

/** A tracker's verifier, sized as startTracker sizes it. */
/** A nonce as signRequest makes them (32 hex digits), reproducible from `label`. */
function nonce(label: string): string {
  return createHash('sha256').update(label).digest('hex').slice(0, 32);
}

function trackerVerifier(): RequestVerifier {
  return new RequestVerifier(key, AUTH_WINDOW_MS, {
    capacity: replayCapacityFor(MAX_TRACKER_PEERS),
    perSource: REPLAY_NONCES_PER_SOURCE,
  });
}

function heartbeatFrom(verifier: RequestVerifier, source: string, now: number) {
  const headers = signRequest(key, 'POST', '/v1/heartbeat', BODY, TARGET, now);
  return verifier.verify('POST', '/v1/heartbeat', headers, BODY, now, source);
}

describe('replay memory', () => {
  test('one member flooding the replay memory leaves the other members let in', () => {
    const verifier = trackerVerifier();
    // More than the old shared bound (200,000): on the old code the flood filled it for everyone.
    const flood = 200_001;
    let floodRefused = 0;
    for (let n = 0; n < flood; n += 1) {
      const now = START + Math.floor(n / 10_000);
      const result = heartbeatFrom(verifier, '127.0.0.66', now);
      if (!result.ok) {
        assert.equal(result.reason, 'source-overloaded');
        floodRefused += 1;
      }
    }
    assert.equal(floodRefused, flood - REPLAY_NONCES_PER_SOURCE, 'the flooder is held to its own budget');
    for (let member = 0; member < 1_000; member += 1) {
      const result = heartbeatFrom(verifier, `127.1.${member >> 8}.${member & 255}`, START + 30);
      assert.equal(result.ok, true, `member ${member}: ${result.ok ? '' : result.reason}`);
    }
  });

  test('a swarm signing 2,000 requests/s for three minutes is never refused', () => {
    const verifier = trackerVerifier();
    const members = 10_000;
    const perSecond = 2_000;
    const seconds = 180;
    let refused = 0;
    let sent = 0;
    for (let second = 0; second < seconds; second += 1) {
      for (let n = 0; n < perSecond; n += 1) {
        const now = START + second * 1_000 + Math.floor((n * 1_000) / perSecond);
        const member = sent % members;
        sent += 1;
        if (!heartbeatFrom(verifier, `10.${member >> 16}.${(member >> 8) & 255}.${member & 255}`, now).ok) {
          refused += 1;
        }
      }
    }
    assert.equal(refused, 0, `${refused} of ${sent} signed requests refused`);
  });

  test('a replay is refused, from the same sender or another, while its timestamp is valid', () => {
    const verifier = trackerVerifier();
    const headers = signRequest(key, 'POST', '/v1/heartbeat', BODY, TARGET, START);
    assert.equal(verifier.verify('POST', '/v1/heartbeat', headers, BODY, START, '127.0.0.2').ok, true);
    for (const [source, now] of [
      ['127.0.0.2', START + 1],
      ['127.0.0.3', START + AUTH_WINDOW_MS - 1],
    ] as const) {
      assert.deepEqual(verifier.verify('POST', '/v1/heartbeat', headers, BODY, now, source), {
        ok: false,
        reason: 'replayed',
      });
    }
    assert.deepEqual(
      verifier.verify('POST', '/v1/heartbeat', headers, BODY, START + AUTH_WINDOW_MS + 1, '127.0.0.3'),
      { ok: false, reason: 'expired' },
    );
  });

  test('memory follows the rate of the last window, and a sender gets its budget back as nonces age', () => {
    const memory = new ReplayMemory({ capacity: 1_000_000, perSource: 500 }, AUTH_WINDOW_MS);
    let peak = 0;
    for (let second = 0; second < 300; second += 1) {
      for (let n = 0; n < 100; n += 1) {
        const now = START + second * 1_000 + n * 10;
        assert.equal(memory.remember(nonce(`${second}-${n}`), now, `s${n % 50}`, now), 'new');
      }
      peak = Math.max(peak, memory.size);
    }
    // 100 a second for a window, plus the second being filled and one not yet swept.
    assert.ok(peak <= 100 * (AUTH_WINDOW_MS / 1_000 + 2), `peak ${peak}`);
    const budget = new ReplayMemory({ capacity: 1_000_000, perSource: 500 }, AUTH_WINDOW_MS);
    for (let n = 0; n < 500; n += 1)
      assert.equal(budget.remember(nonce(`x${n}`), START, 'flooder', START), 'new');
    assert.equal(budget.remember(nonce('one-more'), START, 'flooder', START), 'source-full');
    assert.equal(budget.remember(nonce('other'), START, 'member', START), 'new');
    const later = START + AUTH_WINDOW_MS + 1_000;
    assert.equal(budget.remember(nonce('one-more'), later, 'flooder', later), 'new');
  });

  test('nonces that share their first 30 bits are told apart, and each is caught when replayed', () => {
    const memory = new ReplayMemory({ capacity: 100, perSource: 100 }, AUTH_WINDOW_MS);
    const first = `0123abcd${'0'.repeat(24)}`;
    const second = `0123abcd${'f'.repeat(24)}`;
    for (const value of [first, second]) assert.equal(memory.remember(value, START, 's', START), 'new');
    for (const value of [first, second]) assert.equal(memory.remember(value, START, 't', START), 'replayed');
    assert.equal(memory.size, 2);
  });

  test('a second with many nonces (the table grows), some sharing heads: each new once, then replayed', () => {
    const memory = new ReplayMemory({ capacity: 100_000, perSource: 100_000 }, AUTH_WINDOW_MS);
    const values = Array.from({ length: 20_000 }, (_, n) => nonce(`busy-second-${n}`));
    // Same head as an earlier one, another tail: stored beside it, not mistaken for it.
    for (let n = 0; n < 200; n += 1) values.push(`${values[n]!.slice(0, 8)}${nonce(`tail-${n}`).slice(8)}`);
    for (const value of values) assert.equal(memory.remember(value, START, 's', START), 'new');
    for (const value of values) assert.equal(memory.remember(value, START + 500, 's', START + 1), 'replayed');
    assert.equal(memory.size, values.length);
  });
});
