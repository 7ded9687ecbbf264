/**
 * The daemon's settings: kept in the session file across restarts, applied while it runs, the
 * swarm secret write-only (its own 0600 file, never in the session), flags winning for one run,
 * and bad input refused with the key it concerns.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type Daemon, type DaemonOptions, startDaemon } from '../../src/daemon/daemon.js';
import { isDdmError } from '../../src/errors.js';
import { sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { within } from '../helpers/wait.js';

function start(stateDir: string, extra: Partial<DaemonOptions> = {}): Promise<Daemon> {
  return startDaemon({ host: '127.0.0.1', port: 0, stateDir, ...extra });
}

describe('daemon settings', () => {
  test('settings survive a daemon restart; the swarm secret stays in its own 0600 file', async () => {
    await withTempDir(async (root) => {
      const stateDir = join(root, 'state');
      const first = await start(stateDir);
      const changed = await first.settings.change({
        dir: join(root, 'downloads'),
        maxActive: 2,
        connections: 3,
        maxOverallSpeed: 4_000_000,
        trackers: ['http://127.0.0.1:9/'],
        lanDiscovery: false,
        swarmSecret: TEST_SECRET,
        helper: { slots: 3, accept: 'auto' },
      });
      assert.equal(changed.swarmSecretSet, true);
      assert.equal(changed.swarmSecretHint, `${TEST_SECRET.slice(0, 4)}…`);
      assert.equal(first.engine.limits().maxActive, 2, 'applied at once');
      assert.equal(first.engine.limits().maxSpeed, 4_000_000);
      await first.close();

      const session = await readFile(join(stateDir, 'session.json'), 'utf8');
      assert.doesNotMatch(session, new RegExp(TEST_SECRET), 'the secret is not in the session file');
      const secretFile = join(stateDir, 'swarm-secret');
      assert.equal((await readFile(secretFile, 'utf8')).trim(), TEST_SECRET);
      assert.equal((await stat(secretFile)).mode & 0o777, 0o600);

      const second = await start(stateDir);
      try {
        assert.deepEqual(second.settings.get(), changed, 'every setting came back');
        assert.equal(second.engine.limits().maxActive, 2);
        assert.equal(second.helper.status().slots, 3);
      } finally {
        await second.close();
      }
    });
  });

  test('a flag wins for its run only; a change while running replaces it and is saved', async () => {
    await withTempDir(async (root) => {
      const stateDir = join(root, 'state');
      const first = await start(stateDir);
      await first.settings.change({ maxActive: 3, helper: { slots: 5 } });
      await first.close();

      const flagged = await start(stateDir, { maxActive: 1, settings: { helper: { slots: 2 } } });
      assert.equal(flagged.settings.get().maxActive, 1);
      assert.equal(flagged.settings.get().helper.slots, 2);
      await flagged.settings.change({ helper: { slots: 7 } });
      assert.equal(flagged.settings.get().helper.slots, 7, 'the change replaces the flag');
      await flagged.close();

      const plain = await start(stateDir);
      try {
        assert.equal(plain.settings.get().maxActive, 3, "the flag's value was not saved");
        assert.equal(plain.settings.get().helper.slots, 7, 'the change was');
      } finally {
        await plain.close();
      }
    });
  });

  test('bad settings are refused with the key they concern, and change nothing', async () => {
    await withTempDir(async (root) => {
      const daemon = await start(join(root, 'state'));
      try {
        const before = daemon.settings.get();
        const cases: [unknown, string][] = [
          [{ connections: 0 }, 'connections'],
          [{ maxActive: 'two' }, 'maxActive'],
          [{ helper: { slots: 1000 } }, 'helper.slots'],
          [{ helper: { accept: 'maybe' } }, 'helper.accept'],
          [{ trackers: ['ftp://tracker'] }, 'trackers'],
          [{ swarmSecret: 'short' }, 'swarmSecret'],
          [{ tlsFingerprints: ['not-a-fingerprint'] }, 'tlsFingerprints'],
          [{ colour: 'blue' }, 'colour'],
          [{ helper: { enabled: true } }, 'helper.enabled'],
        ];
        for (const [change, key] of cases) {
          await assert.rejects(
            daemon.settings.change(change as never),
            (error: unknown) =>
              isDdmError(error, 'USAGE') &&
              error.details.key === key &&
              error.message.startsWith(key) &&
              !error.message.includes('--'),
            JSON.stringify(change),
          );
        }
        await assert.rejects(daemon.settings.change({ helper: { accept: 'maybe' } } as never), {
          message: 'helper.accept must be one of auto, ask, never',
        });
        assert.deepEqual(daemon.settings.get(), before);
      } finally {
        await daemon.close();
      }
    });
  });

  test('a new download takes its defaults from the settings, changed live', async () => {
    const data = testData(256 * 1024, 9);
    const origin = await startTestOrigin({ data });
    await withTempDir(async (root) => {
      const daemon = await start(join(root, 'state'));
      try {
        await daemon.settings.change({ dir: join(root, 'here'), connections: 2 });
        await import('node:fs/promises').then((fs) => fs.mkdir(join(root, 'here')));
        const handle = daemon.engine.add({ url: origin.url });
        await within(handle.finished(), 30_000, 'download');
        assert.equal(handle.status().options.connections, 2);
        assert.equal(handle.status().output, join(root, 'here', 'file'));
        assert.equal(await sha256OfFile(join(root, 'here', 'file')), sha256(data));
      } finally {
        await daemon.close();
        await origin.close();
      }
    });
  });

  test('generateSwarmSecret returns a fresh secret once and the settings show only its hint', async () => {
    await withTempDir(async (root) => {
      const daemon = await start(join(root, 'state'));
      try {
        const secret = await daemon.settings.generateSwarmSecret();
        assert.ok(secret.length >= 32);
        const settings = daemon.settings.get();
        assert.equal(settings.swarmSecretSet, true);
        assert.doesNotMatch(JSON.stringify(settings), new RegExp(secret));
        const cleared = await daemon.settings.change({ swarmSecret: '' });
        assert.equal(cleared.swarmSecretSet, false);
        assert.equal(cleared.swarmSecretHint, '');
      } finally {
        await daemon.close();
      }
    });
  });
});
