/**
 * When `ddm get` and `ddm peers` look for peers on the LAN. Only cases that never browse run
 * here (browsing sends multicast on the host's interfaces); browsing itself is tested between
 * network namespaces in discovery-netns.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';

describe('discovery switches', () => {
  let origin: TestOrigin;
  const data = testData(256 * 1024, 71);

  before(async () => {
    origin = await startTestOrigin({ data });
  });
  after(() => origin.close());

  test('without a secret there is no swarm and no browsing: a plain download', async () => {
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const result = await runCli(['get', origin.url, '-o', output, '--json']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256OfFile(output), sha256(data));
      assert.doesNotMatch(result.stdout, /no peers found|LAN/);
    });
  });

  test('--discover without a secret is an error that says how to set one', async () => {
    const result = await runCli(['get', origin.url, '-o', '/nonexistent/x', '--discover']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /NO_SECRET/);
  });

  test('--no-local with discovery off and no tracker or peer: nobody could fetch', async () => {
    for (const [args, env] of [
      [['--no-discover'], { DDM_SECRET: TEST_SECRET }],
      [[], { DDM_SECRET: TEST_SECRET, DDM_DISCOVER: '0' }],
      [[], {}],
    ] as const) {
      const result = await runCli(['get', origin.url, '-o', '/nonexistent/x', '--no-local', ...args], env);
      assert.equal(result.code, 2, `${args} ${JSON.stringify(env)}: ${result.stderr}`);
      assert.match(result.stderr, /--no-local needs peers/);
    }
  });

  test('`ddm peers` with no tracker and discovery off says what to give', async () => {
    const result = await runCli(['peers', '--no-discover'], { DDM_SECRET: TEST_SECRET });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--tracker/);
  });

  test('a bad --discover-timeout names the option', async () => {
    const result = await runCli(['peers', '--discover-timeout', 'soon'], { DDM_SECRET: TEST_SECRET });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--discover-timeout/);
  });

  test('help lists the discovery options', async () => {
    const get = await runCli(['get', '--help']);
    assert.match(get.stdout, /--discover\b/);
    assert.match(get.stdout, /--no-discover/);
    assert.match(get.stdout, /--discover-timeout <seconds>/);
    const peer = await runCli(['peer', '--help']);
    assert.match(peer.stdout, /--no-announce/);
  });
});
