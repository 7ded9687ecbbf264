/**
 * `ddm daemon --helper`: the daemon is also this machine's peer, on the port of its API. A
 * `ddm get` in another process gets bytes from it; in `ask` mode the question waits in the
 * helper role as a HelpRequest and its answer (yes, no, or none in time) decides; switching the
 * role off and on takes effect at once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Daemon, startDaemon } from '../../src/daemon/daemon.js';
import type { HelperRoleEvent } from '../../src/daemon/helper-role.js';
import { runCli, sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { startTracker, stopAll, TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const CONSENT_TIMEOUT_MS = 4_000;

async function helperDaemon(root: string, accept: 'auto' | 'ask'): Promise<Daemon> {
  return startDaemon({
    host: '127.0.0.1',
    port: 0,
    stateDir: join(root, 'state'),
    dir: join(root, 'daemon-downloads'),
    allowPrivate: true,
    consentTimeoutMs: CONSENT_TIMEOUT_MS,
    helperName: 'helper-daemon',
    settings: { swarmSecret: TEST_SECRET, lanDiscovery: false, helper: { enabled: true, accept } },
  });
}

/** `ddm get` through the daemon as its only peer, as JSON events. */
function getThrough(daemon: Daemon, url: string, output: string, extra: readonly string[] = []) {
  return runCli(
    ['get', url, '-o', output, '--peer', daemon.url, '--secret', TEST_SECRET, '--json', ...extra],
    {},
  );
}

function peerStatuses(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { type: string; status?: string; message?: string })
    .filter((event) => event.type === 'peer')
    .map((event) => `${event.status}: ${event.message ?? ''}`);
}

describe('ddm daemon --helper', () => {
  let origin: TestOrigin;
  const data = testData(2 * MiB + 5, 41);

  before(async () => {
    origin = await startTestOrigin({ data });
  });
  after(() => origin.close());

  test('daemon --helper serves a ddm get client from another process on the same port as its API', async () => {
    await withTempDir(async (root) => {
      const daemon = await helperDaemon(root, 'auto');
      try {
        assert.equal(daemon.helper.status().url, daemon.url, 'the helper is reached at the API address');
        const output = join(root, 'through-helper.bin');
        const result = await getThrough(daemon, origin.url, output, ['--no-local']);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.equal(
          daemon.helper.status().bytesContributed,
          data.length,
          'every byte came through the helper',
        );
        const rpc = await fetch(`${daemon.url}/jsonrpc`, {
          method: 'POST',
          body: JSON.stringify({ id: 1, method: 'aria2.getVersion', params: [`token:${daemon.secret}`] }),
        });
        assert.equal(rpc.status, 200, 'the JSON-RPC answers on the same port');
      } finally {
        await daemon.close();
      }
    });
  });

  test('ask mode: a HelpRequest appears; yes lets the download use the helper', async () => {
    await withTempDir(async (root) => {
      const daemon = await helperDaemon(root, 'ask');
      const events: HelperRoleEvent[] = [];
      daemon.helper.on((event) => {
        events.push(event);
        if (event.type === 'help-request') daemon.helper.answer(event.request.id, 'yes');
      });
      try {
        const output = join(root, 'asked-yes.bin');
        const result = await getThrough(daemon, `${origin.url}?token=hidden`, output, ['--no-local']);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        const asked = events.find((event) => event.type === 'help-request');
        assert.ok(asked?.type === 'help-request', 'a help request was made');
        assert.match(asked.request.id, /^[0-9a-f]{16}$/);
        assert.equal(asked.request.host, new URL(origin.url).host);
        assert.doesNotMatch(asked.request.file, /token|hidden|\?/, 'the file name never shows the query');
        assert.equal(asked.request.size, data.length);
        assert.ok(asked.request.expiresAt > asked.request.askedAt, 'it says when it expires');
        assert.ok(
          events.some((event) => event.type === 'help-request-settled' && event.answer === 'yes'),
          'settled as yes',
        );
        assert.equal(daemon.helper.status().bytesContributed, data.length);
        assert.deepEqual(daemon.helper.pendingRequests(), []);
        assert.throws(() => daemon.helper.answer(asked.request.id, 'yes'), { code: 'NOT_FOUND' });
      } finally {
        await daemon.close();
      }
    });
  });

  test('ask mode: no refuses the client, and the download goes on without the helper', async () => {
    await withTempDir(async (root) => {
      // Paced so the client (one connection, ~4 s) still runs when the refusal comes back: against
      // the full-speed origin it could finish before hearing it on a loaded machine, and print none.
      const paced = await startTestOrigin({ data, rateBytesPerSec: 512 * 1024 });
      const daemon = await helperDaemon(root, 'ask');
      daemon.helper.on((event) => {
        if (event.type === 'help-request') daemon.helper.answer(event.request.id, 'no');
      });
      try {
        const output = join(root, 'asked-no.bin');
        const result = await getThrough(daemon, paced.url, output, ['-c', '1']);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.ok(
          peerStatuses(result.stdout).some((line) => /^refused: .*said no/.test(line)),
          peerStatuses(result.stdout).join('\n'),
        );
        assert.equal(daemon.helper.status().bytesContributed, 0);
      } finally {
        await daemon.close();
        await paced.close();
      }
    });
  });

  test('ask mode: a request nobody answers counts as no when it expires', async () => {
    await withTempDir(async (root) => {
      // Slow enough that the client still runs when the question expires, and hears the refusal:
      // the pace is per response, so one connection (-c 1) takes ~8 s against a 4 s question.
      const slow = await startTestOrigin({ data, rateBytesPerSec: 256 * 1024 });
      const daemon = await helperDaemon(root, 'ask');
      const settled: string[] = [];
      daemon.helper.on((event) => {
        if (event.type === 'help-request-settled') settled.push(event.answer);
      });
      try {
        const output = join(root, 'asked-nobody.bin');
        const client = startCli([
          'get',
          slow.url,
          '-o',
          output,
          '--peer',
          daemon.url,
          '--secret',
          TEST_SECRET,
          '--json',
          '-c',
          '1',
        ]);
        await eventually(() => daemon.helper.pendingRequests().length === 1, 30_000, 'the question waits');
        const result = await within(client.exited, 60_000, 'the client finishes');
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.deepEqual(settled, ['timeout']);
        assert.ok(
          peerStatuses(result.stdout).some((line) => /^refused: .*did not answer in time/.test(line)),
          peerStatuses(result.stdout).join('\n'),
        );
        assert.deepEqual(daemon.helper.pendingRequests(), []);
      } finally {
        await daemon.close();
        await slow.close();
      }
    });
  });

  test('switching the role off and on through the settings takes effect without a restart', async () => {
    await withTempDir(async (root) => {
      const daemon = await helperDaemon(root, 'auto');
      try {
        await daemon.settings.change({ helper: { enabled: false } });
        assert.equal(daemon.helper.status().url, null);
        const off = await getThrough(daemon, origin.url, join(root, 'off.bin'), ['--no-local']);
        assert.notEqual(off.code, 0, 'no helper, no download with --no-local');
        await daemon.settings.change({ helper: { enabled: true, slots: 2, maxUpload: 8 * MiB } });
        const status = daemon.helper.status();
        assert.equal(status.slots, 2);
        assert.equal(status.maxUpload, 8 * MiB);
        const on = await getThrough(daemon, origin.url, join(root, 'on.bin'), ['--no-local']);
        assert.equal(on.code, 0, on.stderr);
        assert.equal(await sha256OfFile(join(root, 'on.bin')), sha256(data));
      } finally {
        await daemon.close();
      }
    });
  });

  test('`ddm daemon --helper` as a process: its flags make the role, and a client in another process uses it', async () => {
    await withTempDir(async (root) => {
      const daemon = startCli(
        [
          'daemon',
          '--listen',
          '127.0.0.1:0',
          '--helper',
          '--accept',
          'auto',
          '--slots',
          '3',
          '--allow-private',
          '--no-discover',
          '--secret',
          TEST_SECRET,
          '--dir',
          root,
        ],
        { XDG_STATE_HOME: join(root, 'state') },
      );
      try {
        const url = (await daemon.waitFor(/listening on (http:\/\/[0-9.:]+)/))[1]!;
        await daemon.waitFor(/helping as .* at http:\/\/.* \(accept auto, 3 slots\)/);
        const output = join(root, 'via-cli-helper.bin');
        const result = await runCli(
          ['get', origin.url, '-o', output, '--peer', url, '--secret', TEST_SECRET, '--no-local'],
          {},
        );
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
      } finally {
        daemon.child.kill('SIGTERM');
        await within(daemon.exited, 30_000, 'daemon stops');
      }
    });
  });

  test('trackers set while the helper runs: it registers with them, and a client that asks the tracker gets bytes from it', async () => {
    const tracker = await startTracker(['--heartbeat', '1']);
    try {
      await withTempDir(async (root) => {
        const daemon = await helperDaemon(root, 'auto');
        try {
          await daemon.settings.change({ trackers: [tracker.url] });
          const output = join(root, 'via-tracker.bin');
          const result = await runCli(
            [
              'get',
              origin.url,
              '-o',
              output,
              '--tracker',
              tracker.url,
              '--secret',
              TEST_SECRET,
              '--no-local',
            ],
            {},
          );
          assert.equal(result.code, 0, result.stderr);
          assert.equal(await sha256OfFile(output), sha256(data));
          assert.equal(daemon.helper.status().bytesContributed, data.length);
        } finally {
          await daemon.close();
        }
      });
    } finally {
      await stopAll([tracker]);
    }
  });

  test("a daemon's directory stays fed while nothing downloads: swarm() lists the helper another daemon runs", async () => {
    const tracker = await startTracker(['--heartbeat', '1']);
    try {
      await withTempDir(async (root) => {
        const helper = await helperDaemon(join(root, 'a'), 'auto');
        const client = await startDaemon({
          host: '127.0.0.1',
          port: 0,
          stateDir: join(root, 'b', 'state'),
          settings: { swarmSecret: TEST_SECRET, lanDiscovery: false, trackers: [tracker.url] },
        });
        try {
          await helper.settings.change({ trackers: [tracker.url] });
          await eventually(
            () => client.engine.swarm().some((peer) => peer.id === helper.helper.status().peerId),
            30_000,
            'the client daemon knows the helper',
          );
          const known = client.engine.swarm().find((peer) => peer.id === helper.helper.status().peerId)!;
          assert.deepEqual(known.foundBy, ['tracker']);
          assert.equal(known.name, 'helper-daemon');
          assert.equal(known.slots, helper.helper.status().slots);
          assert.equal(known.trust, 'trusted');
          assert.equal(known.url, helper.url);
        } finally {
          await client.close();
          await helper.close();
        }
      });
    } finally {
      await stopAll([tracker]);
    }
  });
});
