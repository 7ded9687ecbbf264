/**
 * A client of a large swarm chooses its helpers: a tracker lists 2,000 peers, nine in ten of
 * them busy (half say so, half claim free slots and then answer every fetch busy). The client,
 * with --no-local, asks for a sample, recruits at most --max-helpers at a time, replaces the
 * busy ones, and finishes the download byte-identical, with its memory and the requests it
 * sends bounded by the number of helpers rather than by the swarm.
 */
import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EXIT } from '../../src/errors.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { TrackerClient } from '../../src/tracker/tracker-client.js';
import { startTracker } from '../../src/tracker/tracker-server.js';
import { sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { type FakeKind, type FakePeer, type RequestCounts, startFakePeer } from '../helpers/fake-peers.js';
import { TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { within } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const LISTED = 2_000;
const MAX_HELPERS = 16;
/** What `ddm get` may hold at its peak: Node itself plus the download, whatever the swarm's size. */
const MAX_CLIENT_RSS_BYTES = 192 * MiB;

function kindOf(n: number): FakeKind {
  if (n % 10 === 0) return 'good';
  return n % 2 === 0 ? 'busy' : 'lying-busy';
}

/** The peak resident set of a running process (VmHWM), or 0 once it has gone. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return kib === undefined ? 0 : Number(kib) * 1024;
}

describe('a client in a swarm of 2,000', () => {
  test('2,000 listed peers, most busy: the download finishes with bounded client memory and requests', async () => {
    const lifetime = new AbortController();
    // Every fake peer's server listens for the end of the test.
    setMaxListeners(LISTED + 16, lifetime.signal);
    const key = deriveKey(TEST_SECRET);
    const data = testData(16 * MiB + 7);
    const origin = await startTestOrigin({ data });
    const counts: RequestCounts = { info: 0, offer: 0, fetch: 0, offered: new Set() };
    const fakes: FakePeer[] = [];
    try {
      const tracker = await startTracker(
        { host: '127.0.0.1', port: 0, key, maxPeersPerAddress: LISTED, ttlMs: 600_000 },
        lifetime.signal,
      );
      for (let n = 0; n < LISTED; n += 1) {
        fakes.push(await startFakePeer(n, kindOf(n), TEST_SECRET, data, counts, lifetime.signal));
      }
      const registrar = new TrackerClient(tracker.url, key);
      for (let start = 0; start < LISTED; start += 50) {
        await Promise.all(
          fakes
            .slice(start, start + 50)
            .map((fake) =>
              registrar.register(
                { id: fake.id, name: fake.id, port: fake.port, slots: 4, version: 'test' },
                AbortSignal.timeout(20_000),
              ),
            ),
        );
      }
      assert.equal((await registrar.list(AbortSignal.timeout(20_000))).length, LISTED);
      await withTempDir(async (dir) => {
        const output = join(dir, 'campus.bin');
        const started = Date.now();
        const client = startCli(
          [
            'get',
            origin.url,
            '-o',
            output,
            '--no-local',
            '--tracker',
            tracker.url,
            '--max-helpers',
            String(MAX_HELPERS),
            '--no-discover',
            '--quiet',
          ],
          { DDM_SECRET: TEST_SECRET },
        );
        let peak = 0;
        const sampler = setInterval(() => {
          void peakRss(client.child.pid!).then((rss) => {
            peak = Math.max(peak, rss);
          });
        }, 100);
        const result = await within(client.exited, 60_000, 'download').finally(() => clearInterval(sampler));
        const elapsedS = (Date.now() - started) / 1000;
        assert.equal(result.code, EXIT.OK, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        // One sample of 64 per look at the swarm (the download's own and its directory's every 2 s).
        const looks = elapsedS / 2 + 4;
        assert.ok(counts.info <= MAX_HELPERS * 4 * looks, `${counts.info} GET /v1/info in ${elapsedS} s`);
        assert.ok(counts.offered.size <= 10 * MAX_HELPERS, `${counts.offered.size} of ${LISTED} peers asked`);
        assert.ok(peak > 0 && peak < MAX_CLIENT_RSS_BYTES, `client peak RSS ${Math.round(peak / MiB)} MiB`);
        console.log(
          `# 2,000 listed: ${elapsedS.toFixed(1)} s, client peak RSS ${Math.round(peak / MiB)} MiB, ` +
            `${counts.info} info, ${counts.offer} offers to ${counts.offered.size} peers, ${counts.fetch} fetches`,
        );
      });
    } finally {
      lifetime.abort();
      await Promise.all(fakes.map((fake) => fake.close()));
      await origin.close();
    }
  });
});
