/**
 * `ddm get` against real web servers nobody here wrote (nginx, lighttpd, busybox httpd, python's
 * http.server; .ci/run installs them), and against the test origin where it emulates what a
 * real server does but is hard to set up here (npm http-server's bare 416, CGI output without
 * validators, basic auth behind a redirect, HTTP/2-only and self-signed https origins).
 * Every downloaded file is compared by SHA-256 with what the server has on disk.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { runCli, sha256, sha256OfFile, startCli, testData, withTempDir } from '../helpers/cli.js';
import { type RealServer, type RealServerKind, startRealServer } from '../helpers/real-servers.js';
import { startTestOrigin, type TestOrigin, type TestOriginOptions } from '../helpers/test-origin.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls-certs.js';
import { eventually, within } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const SERVER_KINDS: readonly RealServerKind[] = ['nginx', 'lighttpd', 'busybox', 'python'];
/** Bound on starting or stopping all real servers at once. */
const SERVERS_TIMEOUT_MS = 60_000;

function errorLine(stderr: string): string {
  return stderr.trim().split('\n').at(-1) ?? '';
}

function jsonEvents(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function withOrigin<T>(options: TestOriginOptions, fn: (origin: TestOrigin) => Promise<T>): Promise<T> {
  const origin = await startTestOrigin(options);
  try {
    return await fn(origin);
  } finally {
    await origin.close();
  }
}

describe('real web servers', () => {
  let docroot: string;
  const servers = new Map<RealServerKind, RealServer>();
  const cgiVersions: [Buffer, Buffer] = [testData(8 * MiB, 21), testData(8 * MiB, 22)];
  const text = Buffer.from(Array.from({ length: 60_000 }, (_, i) => `line ${i}\n`).join(''));

  before(async () => {
    docroot = await mkdtemp(join(tmpdir(), 'ddm-docroot-'));
    await writeFile(join(docroot, 'big.bin'), testData(3 * MiB + 4321, 7));
    await writeFile(join(docroot, 'empty.bin'), Buffer.alloc(0));
    // nginx `gzip_static always` serves text.txt.gz for text.txt, gzip-encoded, whatever was asked.
    await mkdir(join(docroot, 'gz'));
    await writeFile(join(docroot, 'gz', 'text.txt.gz'), gzipSync(text));
    // CGI output behind lighttpd: ranges cut from the script's output, no ETag, no Last-Modified.
    // The script serves one version to the first two requests and another after, as if the
    // file it prints were replaced while a download runs.
    const cgi = join(docroot, 'cgi');
    await mkdir(cgi);
    await writeFile(join(cgi, 'a.bin'), cgiVersions[0]);
    await writeFile(join(cgi, 'b.bin'), cgiVersions[1]);
    await writeFile(
      join(cgi, 'swap.sh'),
      `echo >> ${cgi}/count
if [ "$(wc -l < ${cgi}/count)" -le 2 ]; then v=a; else v=b; fi
printf 'Content-Type: application/octet-stream\r\n\r\n'
cat ${cgi}/$v.bin
`,
    );
    await within(
      Promise.all(
        SERVER_KINDS.map(async (kind) => {
          servers.set(kind, await startRealServer(kind, docroot, { gzipStaticAlways: ['/gz/'], cgi: true }));
        }),
      ),
      SERVERS_TIMEOUT_MS,
      'starting the real servers',
    );
  });

  after(async () => {
    await within(
      Promise.all([...servers.values()].map((server) => server.stop())),
      SERVERS_TIMEOUT_MS,
      'stopping the real servers',
    );
    await rm(docroot, { recursive: true, force: true });
  });

  const server = (kind: RealServerKind): RealServer => {
    const found = servers.get(kind);
    assert.ok(found, `${kind} is running`);
    return found;
  };

  for (const kind of SERVER_KINDS) {
    test(`${kind}: a 3 MiB file over 4 connections is byte-identical to the file on disk`, async () => {
      await withTempDir(async (dir) => {
        const output = join(dir, 'big.bin');
        const result = await runCli(['get', `${server(kind).baseUrl}/big.bin`, '-o', output, '-c', '4']);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), await sha256OfFile(join(docroot, 'big.bin')));
      });
    });

    test(`${kind}: an empty file is saved empty, with no word about range support`, async () => {
      await withTempDir(async (dir) => {
        const output = join(dir, 'empty.bin');
        const result = await runCli(['get', `${server(kind).baseUrl}/empty.bin`, '-o', output]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal((await stat(output)).size, 0);
        assert.doesNotMatch(result.stderr, /range|single stream/i);
      });
    });
  }

  test('busybox httpd: its whole-file 206 to bytes=0-0 is a usable probe, not BAD_RESPONSE', async () => {
    await withTempDir(async (dir) => {
      const output = join(dir, 'big.bin');
      const result = await runCli(['get', `${server('busybox').baseUrl}/big.bin`, '-o', output, '--json']);
      assert.equal(result.code, 0, result.stderr);
      const start = jsonEvents(result.stdout).find((event) => event.type === 'start');
      assert.equal(start?.mode, 'segmented');
      assert.ok(!jsonEvents(result.stdout).some((event) => event.type === 'retry'), result.stdout);
    });
  });

  test('lighttpd CGI output without validators, replaced mid-download: never exit 0 with a spliced file', async () => {
    await withTempDir(async (dir) => {
      const output = join(dir, 'out.bin');
      const result = await runCli([
        'get',
        `${server('lighttpd').baseUrl}/cgi/swap.sh`,
        '-o',
        output,
        '-c',
        '4',
      ]);
      if (result.code === 0) {
        const versions = cgiVersions.map(sha256);
        assert.ok(versions.includes(await sha256OfFile(output)), 'the file is one whole version');
      }
      assert.match(result.stderr, /no ETag or Last-Modified.*single stream/);
    });
  });

  test('python http.server (no ranges): the file is asked for with exactly one GET', async () => {
    await withTempDir(async (dir) => {
      const python = server('python');
      const before = (await python.requestLines()).length;
      const output = join(dir, 'big.bin');
      const result = await runCli(['get', `${python.baseUrl}/big.bin`, '-o', output]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /does not support ranges/);
      assert.equal(await sha256OfFile(output), await sha256OfFile(join(docroot, 'big.bin')));
      // python logs each request after answering it: wait for the log to settle, then count.
      await eventually(async () => (await python.requestLines()).length > before, 10_000, 'python logs');
      const lines = (await python.requestLines()).slice(before);
      assert.deepEqual(lines, ['GET /big.bin HTTP/1.1']);
    });
  });

  test('nginx gzip_static always: refused with ENCODED_RESPONSE, nothing saved as the file', async () => {
    await withTempDir(async (dir) => {
      const output = join(dir, 'text.txt');
      const result = await runCli(['get', `${server('nginx').baseUrl}/gz/text.txt`, '-o', output]);
      assert.equal(result.code, 3, result.stderr);
      assert.match(errorLine(result.stderr), /\[ENCODED_RESPONSE\].*gzip.*--compressed/);
      assert.equal(existsSync(output), false);
    });
  });

  test('nginx gzip_static always with --compressed: the decoded file, and a notice that says so', async () => {
    await withTempDir(async (dir) => {
      const output = join(dir, 'text.txt');
      const result = await runCli([
        'get',
        `${server('nginx').baseUrl}/gz/text.txt`,
        '-o',
        output,
        '--compressed',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /gzip-encoded: decoding it/);
      const onDisk = await readFile(join(docroot, 'gz', 'text.txt.gz'));
      assert.equal(await sha256OfFile(output), sha256(text));
      assert.notEqual(await sha256OfFile(output), sha256(onDisk));
    });
  });
});

describe('origins that do not play along (test origin)', () => {
  test('a 416 without Content-Range for an empty file (npm http-server) is an empty file, no range notice', async () => {
    await withOrigin({ data: Buffer.alloc(0), bare416: true }, async (origin) => {
      await withTempDir(async (dir) => {
        const output = join(dir, 'empty.bin');
        const result = await runCli(['get', origin.url, '-o', output]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal((await stat(output)).size, 0);
        assert.doesNotMatch(result.stderr, /range|single stream/i);
      });
    });
  });

  test('an origin without ranges is asked for the file with exactly one GET', async () => {
    const data = testData(2 * MiB + 3);
    await withOrigin({ data, ranges: false }, async (origin) => {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const result = await runCli(['get', origin.url, '-o', output]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.equal(origin.requestLog.length, 1, JSON.stringify(origin.requestLog.map((r) => r.headers)));
      });
    });
  });

  test('a forced gzip is refused without --compressed and decoded with it', async () => {
    const data = testData(MiB, 3);
    await withOrigin({ data, forceGzip: true }, async (origin) => {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const refused = await runCli(['get', origin.url, '-o', output]);
        assert.equal(refused.code, 3, refused.stderr);
        assert.match(errorLine(refused.stderr), /\[ENCODED_RESPONSE\]/);
        assert.equal(existsSync(output), false);
        const decoded = await runCli(['get', origin.url, '-o', output, '--compressed']);
        assert.equal(decoded.code, 0, decoded.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
      });
    });
  });

  test('-H "Accept-Encoding: gzip" is refused with USAGE naming --compressed, not dropped in silence', async () => {
    await withOrigin({ data: testData(1000) }, async (origin) => {
      await withTempDir(async (dir) => {
        const result = await runCli(['get', origin.url, '-o', join(dir, 'x'), '-H', 'Accept-Encoding: gzip']);
        assert.equal(result.code, 2, result.stderr);
        assert.match(errorLine(result.stderr), /\[USAGE\].*Accept-Encoding.*--compressed/);
        assert.equal(origin.requests, 0);
      });
    });
  });

  test('without any validator, a file swapped mid-download never gives exit 0 with a spliced file', async () => {
    const data = testData(8 * MiB, 5);
    // CGI output behind lighttpd: ranges, but neither ETag nor Last-Modified. The file becomes
    // another version after the second request, i.e. while several ranges would be in flight.
    await withOrigin({ data, etag: null, lastModified: null, changeEtagAfterRequests: 2 }, async (origin) => {
      const versions = [sha256(data), sha256(Buffer.from(data.map((byte) => byte ^ 0xff)))];
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const result = await runCli(['get', origin.url, '-o', output, '-c', '4']);
        if (result.code === 0) {
          assert.ok(versions.includes(await sha256OfFile(output)), 'the file is one whole version');
        }
        assert.match(result.stderr, /no ETag or Last-Modified.*single stream/);
      });
    });
  });

  test('user:pass@host survives a same-origin redirect, and stays out of --json events', async () => {
    const data = testData(3 * MiB, 9);
    await withOrigin({ data, basicAuth: 'alice:s3cret', redirects: 1 }, async (origin) => {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const url = origin.url.replace('http://', 'http://alice:s3cret@');
        const result = await runCli(['get', `${url}?X-Signature=abc123sig`, '-o', output, '--json']);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.doesNotMatch(result.stdout, /s3cret|alice|abc123sig/);
        const start = jsonEvents(result.stdout).find((event) => event.type === 'start');
        assert.match(String(start?.url), /\/file\?X-Signature=…$/);
      });
    });
  });

  test('the control file is readable by its owner only: it keeps the URL with its secrets', async () => {
    const data = testData(4 * MiB, 11);
    await withOrigin({ data, rateBytesPerSec: 256 * 1024 }, async (origin) => {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const url = `${origin.url.replace('http://', 'http://bob:pw@')}?token=t0ken`;
        const running = startCli(['get', url, '-o', output, '-c', '2', '--quiet']);
        try {
          await eventually(() => existsSync(`${output}.ddm`), 20_000, 'control file written');
          assert.equal((await stat(`${output}.ddm`)).mode & 0o777, 0o600);
          assert.match(await readFile(`${output}.ddm`, 'utf8'), /t0ken/);
        } finally {
          running.child.kill('SIGTERM');
          await within(running.exited, 30_000, 'ddm stops on SIGTERM');
        }
      });
    });
  });
});

describe('https origins', () => {
  let certs: TestCertificates;
  before(async () => {
    certs = await makeTestCertificates();
  });
  after(async () => {
    await certs.remove();
  });

  const tlsOf = async (name: string) => ({
    cert: await readFile(certs.file(`${name}.crt`)),
    key: await readFile(certs.file(`${name}.key`)),
  });

  test('an untrusted certificate is refused with ORIGIN_TLS; --ca-certificate and --insecure accept it', async () => {
    const data = testData(2 * MiB, 13);
    await withOrigin({ data, tls: await tlsOf('leaf') }, async (origin) => {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const refused = await runCli(['get', origin.url, '-o', output]);
        assert.equal(refused.code, 6, refused.stderr);
        assert.match(errorLine(refused.stderr), /\[ORIGIN_TLS\].*--ca-certificate/);
        assert.equal(origin.requests, 0);

        const trusted = await runCli([
          'get',
          origin.url,
          '-o',
          output,
          '--ca-certificate',
          certs.file('ca.crt'),
        ]);
        assert.equal(trusted.code, 0, trusted.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));

        const insecure = await runCli(['get', origin.url, '-o', output, '--insecure', '--overwrite']);
        assert.equal(insecure.code, 0, insecure.stderr);
        assert.match(insecure.stderr, /--insecure: the origin's TLS certificate is not checked/);
        assert.equal(await sha256OfFile(output), sha256(data));
      });
    });
  });

  test('an HTTP/2-only origin (no HTTP/1.1 in ALPN) downloads over h2 with --ca-certificate', async () => {
    const data = testData(3 * MiB, 17);
    await withOrigin({ data, tls: await tlsOf('leaf'), http2Only: true }, async (origin) => {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const result = await runCli([
          'get',
          origin.url,
          '-o',
          output,
          '-c',
          '4',
          '--ca-certificate',
          certs.file('ca.crt'),
        ]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        assert.ok(origin.rangeRequests >= 2, 'segmented over h2');
      });
    });
  });
});
