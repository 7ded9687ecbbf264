/**
 * `ddm peers` looks through the engine's peer directory, as `ddm get` does: only peers that prove
 * themselves are listed, a tracker that cannot be asked is reported without hiding the others,
 * and only a look where nobody could be asked fails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EXIT } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/real-servers.js';
import { type Node, startPeer, startTracker, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { eventually } from '../helpers/wait.js';

const env = { DDM_SECRET: TEST_SECRET };
const LISTED_WITHIN_MS = 20_000;

interface Listed {
  peers: {
    id: string;
    name: string;
    url: string;
    address: string;
    freeSlots: number | null;
    foundBy: string[];
  }[];
  rejected: { name: string; url: string; message: string }[];
}

async function listPeers(args: readonly string[]): Promise<Listed> {
  const result = await runCli(['peers', '--no-discover', '--json', ...args], env);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Listed;
}

describe('ddm peers on the peer directory', () => {
  let tracker: Node | undefined;
  let peer: Node | undefined;

  before(async () => {
    tracker = await startTracker();
    peer = await startPeer('alpha', ['--tracker', tracker.url, '--no-announce', '--allow-private']);
    await eventually(
      async () => (await listPeers(['--tracker', tracker!.url])).peers.length === 1,
      LISTED_WITHIN_MS,
      'the peer registered with the tracker',
    );
  });

  after(() => stopAll([peer, tracker]));

  test('a peer that proved itself is listed with its free slots and every way it was found', async () => {
    const listed = await listPeers(['--tracker', tracker!.url, '--peer', peer!.url]);
    assert.equal(listed.peers.length, 1, 'found twice, listed once');
    const [alpha] = listed.peers;
    assert.equal(alpha!.name, 'alpha');
    assert.equal(alpha!.url, peer!.url, 'the --peer address wins');
    assert.equal(alpha!.address, '127.0.0.1');
    assert.equal(alpha!.freeSlots, 4, 'what its signed info said');
    assert.deepEqual([...alpha!.foundBy].sort(), [tracker!.url, 'peer'].sort());
    assert.deepEqual(listed.rejected, []);
  });

  test('a tracker that cannot be asked is named, and the other tracker is still listed', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(
      ['peers', '--no-discover', '--tracker', dead, '--tracker', tracker!.url],
      env,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^NAME +ADDRESS +SLOTS +FREE +VERSION +FOUND BY +ID$/m);
    assert.match(result.stdout, /^alpha +127\.0\.0\.1:\d+ +4 +4 /m);
    assert.match(result.stderr, new RegExp(`tracker ${dead.replaceAll('.', '\\.')} unavailable`));
  });

  test('with every tracker unreachable and nothing else to ask, it fails with the network error', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(['peers', '--no-discover', '--tracker', dead], env);
    assert.equal(result.code, EXIT.NETWORK, result.stderr);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /NETWORK/);
  });

  test('a listed peer that no longer answers is not shown; it is named under rejected', async () => {
    const gone = await startPeer('gone', ['--tracker', tracker!.url, '--no-announce', '--allow-private']);
    try {
      await eventually(
        async () => (await listPeers(['--tracker', tracker!.url])).peers.some((p) => p.name === 'gone'),
        LISTED_WITHIN_MS,
        'the second peer registered',
      );
    } finally {
      // Killed: no goodbye to the tracker, whose record stays until it expires.
      await gone.stop('SIGKILL');
    }
    const listed = await listPeers(['--tracker', tracker!.url]);
    assert.deepEqual(
      listed.peers.map((p) => p.name),
      ['alpha'],
    );
    assert.deepEqual(
      listed.rejected.map((r) => r.name),
      ['gone'],
    );
    assert.match(listed.rejected[0]!.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
