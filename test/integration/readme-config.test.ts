/**
 * The config example printed in README.md's Configuration section, read from the README itself,
 * drives a real tracker, peer, `ddm peers` and `ddm get`: a documented file that fails every
 * command (or whose "peer" section breaks `ddm get`) fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { type Node, startPeer, startTracker, stopAll } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { eventually } from '../helpers/wait.js';

const README = resolve(import.meta.dirname, '../../README.md');

/** The first ```json block after the "## Configuration" heading. */
function readmeConfigExample(): Record<string, unknown> {
  const text = readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('\n## Configuration'));
  const block = section.match(/```json\n([\s\S]*?)\n```/);
  assert.ok(block, 'README.md has a JSON example under ## Configuration');
  return JSON.parse(block[1]!) as Record<string, unknown>;
}

describe("README's config example", () => {
  test("the README's config example works for ddm tracker, peer, peers and get", async () => {
    const example = readmeConfigExample();
    const data = testData(3 * 1024 * 1024 + 77);
    const origin = await startTestOrigin({ data });
    const nodes: Node[] = [];
    try {
      await withTempDir(async (dir) => {
        const asWritten = join(dir, 'readme.json');
        await writeFile(asWritten, JSON.stringify(example));
        // No secret in the environment: the file's own must do.
        const noSecret = { DDM_SECRET: '' };
        const tracker = await startTracker(['--config', asWritten], noSecret);
        nodes.push(tracker);
        // The example's tracker is a LAN address; tests talk to 127.0.0.1 only, so only the
        // URLs are swapped for the local tracker's, the shape of the file stays the README's.
        assert.ok(Array.isArray(example.tracker), 'the example lists trackers');
        const local = join(dir, 'local.json');
        await writeFile(local, JSON.stringify({ ...example, tracker: [tracker.url] }));
        const section = example.peer as { name: string; slots: number };
        const peer = await startPeer(
          section.name,
          ['--config', local, '--allow-private', '--no-announce'],
          noSecret,
        );
        nodes.push(peer);
        assert.match(peer.cli.stderr(), new RegExp(`${section.name} listening on .*${section.slots} slots`));

        let listed = '';
        await eventually(
          async () => {
            const result = await runCli(['peers', '--config', local, '--no-discover', '--json'], noSecret);
            listed = result.stdout + result.stderr;
            const peers = (JSON.parse(result.stdout) as { peers: { name: string; slots: number }[] }).peers;
            return peers.length === 1 && peers[0]!.name === section.name && peers[0]!.slots === section.slots;
          },
          30_000,
          `the peer listed by the tracker (last answer: ${listed})`,
        );

        const startConnections = async (extra: readonly string[]): Promise<number> => {
          const output = join(dir, `out-${extra.length}.bin`);
          const got = await runCli(
            ['get', origin.url, '-o', output, '--config', local, '--json', '--no-discover', ...extra],
            noSecret,
          );
          assert.equal(got.code, 0, got.stderr);
          assert.equal(await sha256OfFile(output), sha256(data));
          const start = got.stdout
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as { type: string; connections?: number })
            .find((event) => event.type === 'start');
          assert.ok(start?.connections !== undefined, got.stdout);
          return start.connections;
        };
        // The file's "connections" counts: a flag of 1 gives 7 fewer workers than the file's 8.
        const fromFile = await startConnections([]);
        const fromFlag = await startConnections(['--connections', '1']);
        assert.equal(fromFile - fromFlag, (example.connections as number) - 1);
      });
    } finally {
      await stopAll(nodes);
      await origin.close();
    }
  });
});
