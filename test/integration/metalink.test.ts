/**
 * Metalink 4 (RFC 5854) on the command line: `ddm get FILE.meta4` downloads each <file> from its
 * http(s) URLs (the others as mirrors), checks its hash as --checksum and its size, names it as
 * the document does; a malformed document is METALINK_INVALID (exit 2) before anything is fetched.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { metalinkXml } from '../helpers/metalink.js';
import { startTestOrigin, type TestOrigin } from '../helpers/test-origin.js';

const MiB = 1024 * 1024;

describe('Metalink on the command line', () => {
  const data = testData(2 * MiB + 9, 41);
  let first: TestOrigin;
  let second: TestOrigin;
  before(async () => {
    first = await startTestOrigin({ data });
    second = await startTestOrigin({ data });
  });
  after(async () => {
    await Promise.all([first.close(), second.close()]);
  });

  test('a .meta4 with a sha-256 hash: the file from both URLs under its name, the ftp URL left out with a notice', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'file.meta4');
      await writeFile(
        path,
        metalinkXml({
          name: 'named.bin',
          size: data.length,
          hash: sha256(data),
          urls: [first.url, 'ftp://127.0.0.1/file', second.url],
        }),
      );
      const result = await runCli(['get', path, '--dir', dir, '-c', '4', '--no-discover']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256OfFile(join(dir, 'named.bin')), sha256(data));
      assert.match(
        result.stderr,
        /ftp:\/\/127\.0\.0\.1\/file left out: ddm fetches http and https URLs only/,
      );
      assert.match(result.stderr, /fetching from 2 origins/);
    });
  });

  test('a wrong hash is the checksum failure --checksum reports, the data kept', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'file.meta4');
      await writeFile(
        path,
        metalinkXml({ name: 'named.bin', hash: 'ab'.repeat(32), urls: [first.url, second.url] }),
      );
      const result = await runCli(['get', '--metalink', path, '--dir', dir, '--no-discover']);
      assert.equal(result.code, 5, result.stderr);
      assert.match(result.stderr, /CHECKSUM_MISMATCH/);
      assert.ok(!existsSync(join(dir, 'named.bin')));
    });
  });

  test('a size the origin does not serve is refused', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'file.meta4');
      await writeFile(path, metalinkXml({ name: 'named.bin', size: data.length + 1, urls: [first.url] }));
      const result = await runCli(['get', path, '--dir', dir, '--no-discover']);
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /LINK_MISMATCH.*not the \d+ bytes the Metalink gives/);
    });
  });

  for (const [what, text] of [
    ['malformed XML', '<metalink><file name="a.bin"><url>http://127.0.0.1:1/file</url>'],
    ['no usable URL', metalinkXml({ name: 'a.bin', urls: ['ftp://127.0.0.1/file'] })],
    [
      'a bad size',
      metalinkXml({ name: 'a.bin', urls: ['http://127.0.0.1:1/file'] }).replace(
        '<url',
        '<size>1e3</size><url',
      ),
    ],
  ] as const) {
    test(`${what}: METALINK_INVALID, exit 2, nothing fetched`, async () => {
      await withTempDir(async (dir) => {
        const path = join(dir, 'bad.metalink');
        await writeFile(path, text);
        const requests = first.requests;
        const result = await runCli(['get', path, '--dir', dir, '--no-discover']);
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, /METALINK_INVALID/);
        assert.equal(first.requests, requests);
      });
    });
  }
});
