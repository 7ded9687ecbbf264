/**
 * Mirrors and Metalink over aria2's JSON-RPC, driven by the npm package `aria2`: addUri with
 * three URIs fetches from all three (getUris and getServers list them while it runs),
 * addMetalink adds a Metalink's file with its hash checked, and a malformed one is refused.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Aria2 from 'aria2';
import { type Daemon, startDaemon } from '../../src/daemon/daemon.js';
import { sha256, sha256OfFile, testData } from '../helpers/cli.js';
import { metalinkXml } from '../helpers/metalink.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';
import { eventually } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const SECRET = 'rpc-mirrors-secret-0123456789';
const FINISH_MS = 30_000;

interface Status {
  status: string;
  errorCode?: string;
  files: { path: string }[];
}

describe('mirrors and Metalink over the RPC', () => {
  let root: string;
  let daemon: Daemon;
  // Pieces enough for every connection of the three origins from the start.
  const data = testData(8 * MiB + 1, 51);
  const origins: TestOrigin[] = [];
  let aria2: Aria2;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ddm-rpc-mirrors-'));
    for (let i = 0; i < 3; i++) origins.push(await startTestOrigin({ data, rateBytesPerSec: MiB }));
    daemon = await startDaemon({
      host: '127.0.0.1',
      port: 0,
      dir: root,
      stateDir: join(root, 'state'),
      rpcSecret: SECRET,
    });
    aria2 = new Aria2({ host: '127.0.0.1', port: daemon.port, secret: SECRET });
  });

  after(async () => {
    await daemon?.close();
    await Promise.all(origins.map((origin) => origin.close()));
    await rm(root, { recursive: true, force: true });
  });

  const status = (gid: string) => aria2.call('tellStatus', gid) as Promise<Status>;
  const until = (gid: string, state: string) =>
    eventually(async () => (await status(gid)).status === state, FINISH_MS, `${gid} ${state}`);

  test('addUri with three URIs fetches from all three; getUris and getServers name them', async () => {
    const uris = origins.map((origin) => origin.url);
    const gid = (await aria2.call('addUri', uris, { out: 'three.bin', split: '6' })) as string;
    await eventually(
      async () =>
        ((await aria2.call('getServers', gid)) as { servers: unknown[] }[])[0]!.servers.length === 3,
      FINISH_MS,
      'three servers while it runs',
    ).catch(async (error) => {
      // A quick machine may have finished already: that is no failure of the listing.
      if ((await status(gid)).status !== 'complete') throw error;
    });
    const listed = (await aria2.call('getUris', gid).catch(() => [])) as { uri: string; status: string }[];
    if (listed.length > 0)
      assert.deepEqual(
        listed.map((entry) => entry.uri),
        uris,
      );
    await until(gid, 'complete');
    assert.equal(await sha256OfFile(join(root, 'three.bin')), sha256(data));
    for (const origin of origins) {
      const bytes = origin.rangeLog.filter((e) => e.status === 206 && e.end - e.start > 1).length;
      assert.ok(
        bytes > 0,
        `origin ${origin.port} served ranges: ${JSON.stringify(origins.map((o) => o.rangeLog))}`,
      );
    }
  });

  test('addMetalink: its file under its name, hash checked; a wrong hash fails with aria2 code 32', async () => {
    const good = metalinkXml({
      name: 'meta.bin',
      size: data.length,
      hash: sha256(data),
      urls: origins.map((origin) => origin.url),
    });
    const gids = (await aria2.call('addMetalink', Buffer.from(good).toString('base64'))) as string[];
    assert.equal(gids.length, 1);
    await until(gids[0]!, 'complete');
    assert.equal(await sha256OfFile(join(root, 'meta.bin')), sha256(data));
    const wrong = metalinkXml({ name: 'wrong.bin', hash: 'cd'.repeat(32), urls: [origins[0]!.url] });
    const [bad] = (await aria2.call('addMetalink', Buffer.from(wrong).toString('base64'))) as string[];
    await until(bad!, 'error');
    assert.equal((await status(bad!)).errorCode, '32');
  });

  test('a malformed Metalink is refused, naming METALINK_INVALID', async () => {
    await assert.rejects(
      aria2.call('addMetalink', Buffer.from('<metalink><file name="x">').toString('base64')),
      (error: Error & { data?: { code?: string } }) => /not a usable Metalink/.test(error.message),
    );
  });
});
