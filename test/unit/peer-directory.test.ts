import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PeerTarget } from '../../src/client/peer-source.js';
import type { PeerSurvey } from '../../src/client/swarm.js';
import { type DirectoryChange, PeerDirectory } from '../../src/engine/peer-directory.js';
import { eventually } from '../helpers/wait.js';

const POLL_MS = 20;
const GONE_AFTER_MS = 100;
const peer: PeerTarget = { id: 'peer-aaaa', name: 'a', url: 'http://127.0.0.1:7801' };

/** A directory whose every poll answers what `answer()` says at that moment. */
function directoryAnswering(answer: () => PeerSurvey): { changes: DirectoryChange[]; stop: () => void } {
  const directory = new PeerDirectory(
    async () => answer(),
    () => {},
    POLL_MS,
    GONE_AFTER_MS,
  );
  const changes: DirectoryChange[] = [];
  const stop = directory.subscribe((change) => changes.push(change));
  return { changes, stop };
}

describe('peer directory', () => {
  test('a tracker that cannot be asked does not make its peers leave', async () => {
    let survey: PeerSurvey = { peers: [peer], complete: true, unreachable: [] };
    const { changes, stop } = directoryAnswering(() => survey);
    try {
      await eventually(() => changes.length === 1, 2_000, 'the peer appears');
      survey = { peers: [], complete: false, unreachable: [] }; // the tracker is down: nothing is known
      await new Promise((resolve) => setTimeout(resolve, GONE_AFTER_MS * 4));
      assert.deepEqual(
        changes.map((change) => change.kind),
        ['appeared'],
        'an incomplete answer proves no one absent',
      );
    } finally {
      stop();
    }
  });

  test('a peer absent from complete answers for the whole grace period has left', async () => {
    let survey: PeerSurvey = { peers: [peer], complete: true, unreachable: [] };
    const { changes, stop } = directoryAnswering(() => survey);
    try {
      await eventually(() => changes.length === 1, 2_000, 'the peer appears');
      const emptied = Date.now();
      survey = { peers: [], complete: true, unreachable: [] }; // a restarted tracker, or the peer really left
      await eventually(() => changes.length === 2, 2_000, 'the peer leaves');
      assert.equal(changes[1]?.kind, 'gone', 'the second change is the peer leaving');
      assert.ok(Date.now() - emptied >= GONE_AFTER_MS, 'not before the grace period is over');
    } finally {
      stop();
    }
  });
});
