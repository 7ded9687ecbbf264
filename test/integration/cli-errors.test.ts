/**
 * What the command line says when it cannot go on: a reader that went away, an unknown option,
 * a bad number, a host name that does not exist. Real `ddm` processes, output checked line by line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  CLI_TIMEOUT_MS,
  DDM_BIN,
  runCli,
  sha256,
  sha256OfFile,
  testData,
  withTempDir,
} from '../helpers/cli.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { within } from '../helpers/wait.js';

/** Runs ddm with its stdout a pipe whose reader is gone before ddm writes: `ddm ... | true`. */
async function runWithClosedStdout(
  args: readonly string[],
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [DDM_BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, XDG_CONFIG_HOME: '/nonexistent-ddm-test-config' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.destroy();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await within(
    new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode))),
    CLI_TIMEOUT_MS,
    `ddm ${args.join(' ')}`,
  ).finally(() => child.kill('SIGKILL'));
  return { code, stderr };
}

function assertNoStackTrace(stderr: string): void {
  assert.doesNotMatch(stderr, /EPIPE|^\s+at /m, stderr);
}

describe('ddm on a closed output', () => {
  for (const args of [
    ['--help'],
    ['--version'],
    ['get', '--help'],
    ['tracker', '--help'],
    ['peer', '--help'],
    ['peers', '--help'],
    ['demo', '--help'],
    ['secret'],
  ]) {
    test(`ddm ${args.join(' ')} into a closed pipe ends quietly with exit 0`, async () => {
      const result = await runWithClosedStdout(args);
      assertNoStackTrace(result.stderr);
      assert.equal(result.stderr, '');
      assert.equal(result.code, 0);
    });
  }

  test('a --json download whose reader left stops with one line, keeps its progress, and resumes', async () => {
    const data = testData(2 * 1024 * 1024);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 512 * 1024 });
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'out.bin');
        const closed = await runWithClosedStdout([
          'get',
          origin.url,
          '-o',
          output,
          '--json',
          '--connections',
          '2',
        ]);
        assertNoStackTrace(closed.stderr);
        assert.equal(closed.code, 130, closed.stderr);
        assert.match(
          closed.stderr.trim(),
          /^ddm: error \[ABORTED\]: stdout was closed \(run the same command again to resume\)$/,
        );
        assert.equal(existsSync(output), false, 'no final name for an unfinished file');
        origin.options.rateBytesPerSec = undefined;
        const again = await runCli(['get', origin.url, '-o', output, '--quiet']);
        assert.equal(again.code, 0, again.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
      });
    } finally {
      await origin.close();
    }
  });
});

describe('ddm usage errors', () => {
  test('an unknown option is one ddm error line with USAGE and exit 2', async () => {
    const result = await runCli(['get', '--bogus', 'http://127.0.0.1:9/x']);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      "ddm: error [USAGE]: unknown option '--bogus' (ddm get --help lists the options)\n",
    );
  });

  test('an unknown command is one ddm error line with USAGE and exit 2', async () => {
    const result = await runCli(['gett']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^ddm: error \[USAGE\]: unknown command 'gett' \(Did you mean get\?\) .*\n$/);
  });

  test('--connections 0 and -c 1000 on the command line give the same code, USAGE', async () => {
    for (const value of ['0', '1000']) {
      const result = await runCli(['get', 'http://127.0.0.1:9/x', '-c', value]);
      assert.equal(result.code, 2);
      assert.equal(
        result.stderr,
        `ddm: error [USAGE]: --connections: must be a positive integer up to 64, not "${value}"\n`,
      );
    }
  });

  test('the same bad numbers from a DDM_* variable are CONFIG_INVALID, naming the variable', async () => {
    for (const value of ['0', '1000']) {
      const result = await runCli(['get', 'http://127.0.0.1:9/x'], { DDM_CONNECTIONS: value });
      assert.equal(result.code, 2);
      assert.match(
        result.stderr,
        /^ddm: error \[CONFIG_INVALID\]: DDM_CONNECTIONS: must be a positive integer up to 64/,
      );
    }
    const slots = await runCli(['peer', '--slots', '100000', '--secret', 'x'.repeat(20)]);
    assert.equal(slots.code, 2);
    assert.match(
      slots.stderr,
      /^ddm: error \[USAGE\]: --slots: must be a positive integer up to \d+, not "100000"\n$/,
    );
  });
});

describe('ddm and host names that do not exist', () => {
  // RFC 6761: .invalid never resolves, so the local resolver answers NXDOMAIN (ENOTFOUND).
  test('a host name that does not resolve fails at once with NETWORK naming the host, no retries', async () => {
    await withTempDir(async (dir) => {
      const result = await runCli([
        'get',
        'http://no-such-host.invalid/file',
        '-o',
        join(dir, 'x'),
        '--max-tries',
        '5',
      ]);
      assert.equal(result.code, 6, result.stderr);
      assert.equal(
        result.stderr,
        'ddm: error [NETWORK]: cannot resolve host name no-such-host.invalid: no such host (ENOTFOUND)\n',
      );
      assert.doesNotMatch(result.stderr, /retry/);
    });
  });
});
