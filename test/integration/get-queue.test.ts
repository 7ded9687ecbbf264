/**
 * `ddm get` with several downloads in one process: URLs on the command line, `-i FILE` in
 * aria2's input-file format (and `-i -` for stdin), and the queue's --max-active.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
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

const MiB = 1024 * 1024;

interface JsonEvent {
  type: string;
  output?: string;
}

function events(stdout: string): JsonEvent[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as JsonEvent);
}

describe('ddm get with several downloads', () => {
  test('--max-active 1: two queued downloads run one after the other, both byte-identical', async () => {
    const data = testData(2 * MiB + 5);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 4 * MiB });
    try {
      await withTempDir(async (dir) => {
        const result = await runCli([
          'get',
          `${origin.baseUrl}/file/one.bin`,
          `${origin.baseUrl}/file/two.bin`,
          '--dir',
          dir,
          '--max-active',
          '1',
          '--json',
        ]);
        assert.equal(result.code, 0, result.stderr);
        const order = events(result.stdout)
          .filter((event) => event.type === 'start' || event.type === 'done')
          .map((event) => `${event.type}:${event.output?.split('/').at(-1)}`);
        assert.deepEqual(order, ['start:one.bin', 'done:one.bin', 'start:two.bin', 'done:two.bin']);
        for (const name of ['one.bin', 'two.bin']) {
          assert.equal(await sha256OfFile(join(dir, name)), sha256(data), name);
        }
      });
    } finally {
      await origin.close();
    }
  });

  test('-i FILE: URL lines with indented key=value options, aria2 names too', async () => {
    const data = testData(1 * MiB + 99);
    const origin = await startTestOrigin({ data });
    try {
      await withTempDir(async (dir) => {
        const list = join(dir, 'list.txt');
        await writeFile(
          list,
          [
            '# two downloads',
            `${origin.baseUrl}/file/x.bin`,
            '  out=renamed.bin',
            '  connections=2',
            '',
            `${origin.baseUrl}/file/y.bin`,
            '\tsplit=3',
            '\tmax-speed=0',
          ].join('\n'),
        );
        const result = await runCli(['get', '-i', list, '--dir', dir, '--quiet'], {}, dir);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await sha256OfFile(join(dir, 'renamed.bin')), sha256(data));
        assert.equal(await sha256OfFile(join(dir, 'y.bin')), sha256(data));
      });
    } finally {
      await origin.close();
    }
  });

  test('-i - reads the list from stdin', async () => {
    const data = testData(700_000);
    const origin = await startTestOrigin({ data });
    try {
      await withTempDir(async (dir) => {
        const child = spawn(process.execPath, [DDM_BIN, 'get', '-i', '-', '--dir', dir, '--quiet'], {
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            XDG_CONFIG_HOME: '/nonexistent-ddm-test-config',
          },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        child.stdin.end(`${origin.baseUrl}/file/s.bin\n`);
        const code = await within(
          new Promise<number | null>((resolve) => child.on('close', resolve)),
          CLI_TIMEOUT_MS,
          'ddm get -i -',
        );
        assert.equal(code, 0, stderr);
        assert.equal(await sha256OfFile(join(dir, 's.bin')), sha256(data));
      });
    } finally {
      await origin.close();
    }
  });

  test('a bad input file is refused with its line number, before anything is fetched', async () => {
    const origin = await startTestOrigin({ data: testData(1000) });
    try {
      await withTempDir(async (dir) => {
        const list = join(dir, 'bad.txt');
        await writeFile(list, `${origin.url}\n  colour=blue\n`);
        const result = await runCli(['get', '-i', list, '--dir', dir]);
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, /\[USAGE\].*bad\.txt:2: "colour" is not an option/);
        const tooMany = await runCli(['get', '--connections', '65', origin.url, '--dir', dir]);
        assert.equal(tooMany.code, 2);
        assert.match(tooMany.stderr, /--connections: must be a positive integer up to 64/);
        assert.equal(origin.requests, 0);
      });
    } finally {
      await origin.close();
    }
  });
});
