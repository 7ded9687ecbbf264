/**
 * End-to-end: the real `ddm get` against the real test origin, bytes checked with SHA-256.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { startTestOrigin } from '../helpers/test-origin.js';

const MiB = 1024 * 1024;

function errorLine(stderr: string): string {
  return stderr.trim().split('\n').at(-1) ?? '';
}

describe('ddm get', () => {
  test('downloads a file over several connections, byte-identical, leaving no .part or control file', async () => {
    const data = testData(8 * MiB + 12_345);
    const origin = await startTestOrigin({ data });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const result = await runCli(['get', origin.url, '-o', output, '--connections', '4', '--quiet']);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.equal(existsSync(`${output}.part`), false);
        assert.equal(existsSync(`${output}.ddm`), false);
        assert.ok(origin.rangeRequests >= 2, 'used range requests');
        assert.equal(result.stdout, '');
      });
    } finally {
      await origin.close();
    }
  });

  test('--dir names the file from Content-Disposition, sanitised', async () => {
    const data = testData(300_000);
    const origin = await startTestOrigin({
      data,
      contentDisposition: 'attachment; filename="x.iso"; filename*=UTF-8\'\'..%2F..%2F.evil%07.iso',
    });
    try {
      await withTempDir(async (dir) => {
        const result = await runCli(['get', origin.url, '--dir', dir, '--quiet']);
        assert.equal(result.code, 0, result.stderr);
        const names = await readdir(dir);
        assert.equal(names.length, 1);
        assert.ok(
          !names[0]!.includes('/') && !names[0]!.includes('\u0007') && !names[0]!.startsWith('.'),
          names[0],
        );
        assert.equal(await sha256OfFile(join(dir, names[0]!)), sha256(data));
      });
    } finally {
      await origin.close();
    }
  });

  test('an origin without Range support and one of unknown length still work with one stream, and say so', async () => {
    const data = testData(3 * MiB + 7);
    for (const switches of [{ ranges: false }, { chunked: true }]) {
      const origin = await startTestOrigin({ data, ...switches });
      try {
        await withTempDir(async (dir) => {
          const output = join(dir, 'out.bin');
          const result = await runCli(['get', origin.url, '-o', output]);
          assert.equal(result.code, 0, result.stderr);
          assert.match(result.stderr, /single stream/);
          assert.equal(await sha256OfFile(output), sha256(data));
        });
      } finally {
        await origin.close();
      }
    }
  });

  test('redirects are followed; 503 with Retry-After is waited out; dropped connections and bad ranges are retried', async () => {
    const data = testData(4 * MiB);
    const origin = await startTestOrigin({
      data,
      redirects: 2,
      status503: { times: 1, retryAfterSec: 1 },
      dropAfterBytes: 100_000,
      dropTimes: 2,
      wrongContentRange: { times: 1 },
      shortBody: { times: 1 },
    });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const started = Date.now();
        const result = await runCli(['get', origin.url, '-o', output, '--json']);
        assert.equal(result.code, 0, result.stderr);
        assert.ok(Date.now() - started >= 900, 'waited for Retry-After');
        assert.equal(await sha256OfFile(output), sha256(data));
        const events = result.stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { type: string });
        assert.ok(
          events.some((e) => e.type === 'retry'),
          'reported retries',
        );
        assert.equal(events.at(-1)?.type, 'done');
      });
    } finally {
      await origin.close();
    }
  });

  test('errors are one clear line with a stable code and a documented exit status; nothing is created', async () => {
    const data = testData(100_000);
    const origin = await startTestOrigin({ data, status: 404 });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const notFound = await runCli(['get', origin.url, '-o', output]);
        assert.equal(notFound.code, 3);
        assert.match(errorLine(notFound.stderr), /^ddm: error \[HTTP_STATUS\]: .*404/);
        assert.doesNotMatch(notFound.stderr, /\n\s+at /, 'no stack trace');
        assert.equal(existsSync(output), false);
        assert.equal(existsSync(`${output}.part`), false);

        origin.options.status = undefined;
        origin.options.redirectLoop = true;
        const loop = await runCli(['get', origin.url, '-o', output]);
        assert.equal(loop.code, 3);
        assert.match(errorLine(loop.stderr), /\[TOO_MANY_REDIRECTS\]/);

        const badUrl = await runCli(['get', 'ftp://example.invalid/file', '-o', output]);
        assert.equal(badUrl.code, 2);
        assert.match(errorLine(badUrl.stderr), /\[URL_INVALID\]/);

        const badFlag = await runCli(['get', origin.url, '--connections', 'many']);
        assert.equal(badFlag.code, 2);
        assert.match(badFlag.stderr, /--connections.*positive integer/);
      });
    } finally {
      await origin.close();
    }
  });

  test('an existing file is never clobbered without --overwrite', async () => {
    const data = testData(500_000);
    const origin = await startTestOrigin({ data });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'precious.bin');
        await writeFile(output, 'keep me');
        const refused = await runCli(['get', origin.url, '-o', output]);
        assert.equal(refused.code, 4);
        assert.match(errorLine(refused.stderr), /\[FILE_EXISTS\].*--overwrite/);
        assert.equal(await readFile(output, 'utf8'), 'keep me');
        const replaced = await runCli(['get', origin.url, '-o', output, '--overwrite', '--quiet']);
        assert.equal(replaced.code, 0, replaced.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
      });
    } finally {
      await origin.close();
    }
  });

  test('--checksum: a match gives the file its name; a mismatch keeps only the .part and exits 5', async () => {
    const data = testData(2 * MiB);
    const origin = await startTestOrigin({ data });
    try {
      await withTempDir(async (dir) => {
        const good = join(dir, 'good.bin');
        const ok = await runCli([
          'get',
          origin.url,
          '-o',
          good,
          '--checksum',
          `sha256=${sha256(data)}`,
          '--quiet',
        ]);
        assert.equal(ok.code, 0, ok.stderr);
        assert.equal(await sha256OfFile(good), sha256(data));

        const bad = join(dir, 'bad.bin');
        const mismatch = await runCli([
          'get',
          origin.url,
          '-o',
          bad,
          '--checksum',
          `sha256=${'0'.repeat(64)}`,
        ]);
        assert.equal(mismatch.code, 5);
        assert.match(errorLine(mismatch.stderr), /\[CHECKSUM_MISMATCH\]/);
        assert.equal(existsSync(bad), false);
        assert.equal(existsSync(`${bad}.part`), true);

        const malformed = await runCli(['get', origin.url, '-o', bad, '--checksum', 'crc32=abcd']);
        assert.equal(malformed.code, 2);
      });
    } finally {
      await origin.close();
    }
  });

  test('a file that changes on the server mid-download is a clear error, never a spliced file', async () => {
    const data = testData(6 * MiB);
    const origin = await startTestOrigin({ data, changeEtagAfterRequests: 3, rateBytesPerSec: 8 * MiB });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const result = await runCli(['get', origin.url, '-o', output, '--connections', '4']);
        assert.equal(result.code, 3, result.stderr);
        assert.match(errorLine(result.stderr), /\[ORIGIN_CHANGED\]/);
        assert.equal(existsSync(output), false);
        // The next run sees new validators and starts over, saying so, and gets the new version whole.
        const again = await runCli(['get', origin.url, '-o', output]);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stderr, /changed on the server.*starting over/);
        assert.equal(await sha256OfFile(output), sha256(origin.currentData()));
      });
    } finally {
      await origin.close();
    }
  });

  test('options resolve flag > DDM_* variable > config file, and a bad key is named', async () => {
    const data = testData(1 * MiB);
    const origin = await startTestOrigin({ data });
    try {
      await withTempDir(async (dir) => {
        const configDir = join(dir, 'config', 'ddm');
        await mkdir(configDir, { recursive: true });
        const configFile = join(configDir, 'config.json');
        const env = { XDG_CONFIG_HOME: join(dir, 'config') };
        const output = join(dir, 'out.bin');

        await writeFile(configFile, JSON.stringify({ connectionz: 3 }));
        const unknown = await runCli(['get', origin.url, '-o', output], env);
        assert.equal(unknown.code, 2);
        assert.match(errorLine(unknown.stderr), /\[CONFIG_INVALID\].*"connectionz"/);

        await writeFile(configFile, JSON.stringify({ connections: 0 }));
        const badValue = await runCli(['get', origin.url, '-o', output], env);
        assert.equal(badValue.code, 2);
        assert.match(errorLine(badValue.stderr), /config key "connections"/);

        // The environment beats the file; the flag beats both.
        const fromEnv = await runCli(['get', origin.url, '-o', output], { ...env, DDM_CONNECTIONS: 'x' });
        assert.match(errorLine(fromEnv.stderr), /DDM_CONNECTIONS/);
        const fromFlag = await runCli(['get', origin.url, '-o', output, '-c', '2', '--json'], {
          ...env,
          DDM_CONNECTIONS: 'x',
        });
        assert.equal(fromFlag.code, 0, fromFlag.stderr);
        const start = JSON.parse(fromFlag.stdout.split('\n')[0]!) as { type: string; connections: number };
        assert.equal(start.connections, 2);
      });
    } finally {
      await origin.close();
    }
  });

  test('credentials given for one origin never reach another one it redirects to', async () => {
    const data = testData(2 * MiB);
    const target = await startTestOrigin({ data });
    const redirector = createServer((_req, res) => res.writeHead(302, { location: target.url }).end());
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const { port } = redirector.address() as AddressInfo;
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const result = await runCli([
          'get',
          `http://127.0.0.1:${port}/start`,
          '-o',
          output,
          '-H',
          'Authorization: Bearer SECRET',
          '-H',
          'X-Other: kept',
          '--quiet',
        ]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.ok(target.requestLog.length >= 2);
        for (const { headers } of target.requestLog) {
          assert.equal(headers.authorization, undefined, 'no credentials at the other origin');
          assert.equal(headers['x-other'], 'kept');
        }
      });
    } finally {
      redirector.close();
      await target.close();
    }
  });

  test('--help works for every command', async () => {
    for (const command of ['get', 'tracker', 'peer', 'peers', 'demo', 'secret']) {
      const result = await runCli([command, '--help']);
      assert.equal(result.code, 0, `${command}: ${result.stderr}`);
      assert.match(result.stdout, /Usage: ddm/);
    }
  });
});
