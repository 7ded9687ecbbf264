/** `ddm peer` as an operator starts it: what it refuses to do and what it says. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  DDM_BIN,
  type RunningCli,
  runCli,
  sha256,
  sha256OfFile,
  startCli,
  testData,
  withTempDir,
} from '../helpers/cli.js';
import { freePort } from '../helpers/real-servers.js';
import { TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';
import { eventually, within } from '../helpers/wait.js';

describe('ddm peer on the command line', () => {
  test('--accept ask without a terminal refuses to start with one USAGE line, exit 2', async () => {
    // stdin is not a terminal here (startCli gives the child none): nobody could answer.
    const peer = startCli(['peer', '--accept', 'ask', '--listen', '127.0.0.1:0', '--no-announce'], {
      DDM_SECRET: TEST_SECRET,
    });
    try {
      const result = await within(peer.exited, 30_000, 'ddm peer --accept ask to exit');
      assert.equal(result.code, 2, result.stderr);
      assert.equal(
        result.stderr,
        'ddm: error [USAGE]: --accept ask needs a terminal to ask on, and stdin is not one: ' +
          'start the peer in a terminal, or use --accept auto or --accept never\n',
      );
    } finally {
      peer.child.kill('SIGKILL');
    }
  });
});

const README = resolve(import.meta.dirname, '../../README.md');
const RECIPE_TRACKER = 'http://127.0.0.1:7800';

/** The `ddm ...` lines of the sh block under "### Trying the swarm on one machine". */
function oneMachineRecipe(): string[][] {
  const text = readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('### Trying the swarm on one machine'));
  const block = section.match(/```sh\n([\s\S]*?)\n```/);
  assert.ok(block, 'README.md has the one-machine recipe');
  return block[1]!
    .split('\n')
    .filter((line) => line.startsWith('ddm '))
    .map((line) => line.replace(/\s*&$/, '').split(/\s+/).slice(1));
}

/** A recipe line with this test's ports: nodes on port 0, the tracker and origin as started. */
function localised(args: readonly string[], trackerUrl: string, originUrl: string, output: string): string[] {
  return args.map((arg) => {
    if (/^127\.0\.0\.1:\d+$/.test(arg)) return '127.0.0.1:0';
    if (arg === RECIPE_TRACKER) return trackerUrl;
    if (arg.startsWith('http://127.0.0.1:8000/')) return originUrl;
    if (arg === 'big.iso') return output;
    return arg;
  });
}

describe("the README's one-machine swarm", () => {
  test("the README's one-machine recipe downloads through both peers", async () => {
    const recipe = oneMachineRecipe();
    assert.deepEqual(
      recipe.map((args) => args[0]),
      ['tracker', 'peer', 'peer', 'get'],
    );
    const data = testData(6 * 1024 * 1024 + 5);
    // Slow per connection, so that the peers' connections count.
    const origin = await startTestOrigin({ data, rateBytesPerSec: 2 * 1024 * 1024 });
    const nodes: RunningCli[] = [];
    const secret = (await runCli(['secret'])).stdout.trim();
    const env = { DDM_SECRET: secret };
    try {
      await withTempDir(async (dir) => {
        const output = join(dir, 'big.iso');
        const [trackerArgs, ...rest] = recipe;
        const tracker = startCli(localised(trackerArgs!, '', origin.url, output), env);
        nodes.push(tracker);
        const trackerUrl = (await tracker.waitFor(/listening on (http:\/\/\S+)/))[1]!;
        for (const args of rest.slice(0, 2)) {
          const peer = startCli(localised(args, trackerUrl, origin.url, output), env);
          nodes.push(peer);
          await peer.waitFor(/listening on http:\/\//);
        }
        await eventually(
          async () => {
            const listed = await runCli(['peers', '--tracker', trackerUrl, '--no-discover', '--json'], env);
            return (JSON.parse(listed.stdout) as { peers: unknown[] }).peers.length === 2;
          },
          30_000,
          'both peers registered',
        );
        const got = await runCli(localised(rest[2]!, trackerUrl, origin.url, output), env);
        assert.equal(got.code, 0, got.stderr);
        assert.equal(await sha256OfFile(output), sha256(data));
        for (const name of ['one', 'two']) {
          assert.match(got.stderr, new RegExp(`peer ${name} accepted`));
          assert.match(got.stderr, new RegExp(`^  ${name} +\\d`, 'm'), 'in the summary of who fetched');
        }
      });
    } finally {
      for (const node of nodes) node.child.kill('SIGKILL');
      await Promise.all(nodes.map((node) => node.exited));
      await origin.close();
    }
  });

  test('peers that refuse a 127.0.0.1 origin make the client name ddm peer --allow-private', async () => {
    const data = testData(1024 * 1024);
    const origin = await startTestOrigin({ data });
    const peer = startCli(['peer', '--listen', '127.0.0.1:0', '--name', 'strict', '--no-announce'], {
      DDM_SECRET: TEST_SECRET,
    });
    try {
      const peerUrl = (await peer.waitFor(/listening on (http:\/\/\S+)/))[1]!;
      await withTempDir(async (dir) => {
        const got = await runCli(['get', origin.url, '-o', join(dir, 'x'), '--peer', peerUrl, '--no-local'], {
          DDM_SECRET: TEST_SECRET,
        });
        assert.equal(got.code, 7, got.stderr);
        assert.match(got.stderr, /ddm peer --allow-private/);
        assert.doesNotMatch(got.stderr, /use --allow-private/);
      });
    } finally {
      peer.child.kill('SIGKILL');
      await peer.exited;
      await origin.close();
    }
  });
});

describe('ddm peer logs', () => {
  // A port nothing listens on (free a moment ago), and not one of the deny-listed ports, which a
  // peer refuses to dial at all.
  let args: string[] = [];
  let readable = /unset/;
  let jsonWarning = /unset/;
  before(async () => {
    const port = await freePort();
    args = ['peer', '--listen', '127.0.0.1:0', '--no-announce', '--tracker', `http://127.0.0.1:${port}`];
    readable = new RegExp(
      `ddm peer: warning: cannot reach tracker at http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`,
    );
    jsonWarning = new RegExp(`\\{"level":40,.*"msg":"cannot reach tracker at http://127\\.0\\.0\\.1:${port}`);
  });

  test('on a terminal, ddm peer logs readable lines, not JSON', async () => {
    // util-linux `script` gives the command a pseudo-terminal. Killing `script` does not reach
    // the peer (it runs in its own session), and a peer whose terminal vanished was seen not to
    // stop on SIGTERM: `timeout -s KILL` bounds it whatever happens.
    const command = ['timeout', '-s', 'KILL', '30', process.execPath, DDM_BIN, ...args].join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DDM_SECRET: TEST_SECRET,
        XDG_CONFIG_HOME: '/nonexistent',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      await eventually(() => readable.test(output), 30_000, `a readable warning, got: ${output}`);
      assert.doesNotMatch(output, /\{"level"/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('--log-format text gives readable lines where JSON is the default; json keeps JSON', async () => {
    for (const [format, expected] of [
      ['text', readable],
      ['json', jsonWarning],
    ] as const) {
      const peer = startCli([...args, '--log-format', format], { DDM_SECRET: TEST_SECRET });
      try {
        await peer.waitFor(expected, 30_000);
      } finally {
        peer.child.kill('SIGKILL');
        await peer.exited;
      }
    }
  });
});
