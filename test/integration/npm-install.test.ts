/**
 * Installing ddm as a user would: the packed tarball installs globally with no registry (its
 * dependencies travel inside it) and runs; the prepare hook copes without dev dependencies
 * instead of failing with "tsc: not found".
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { withTempDir } from '../helpers/cli.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const PACK_TIMEOUT_MS = 60_000;
const INSTALL_TIMEOUT_MS = 120_000;

/** npm with no registry: only what is in the tarball (or npm's cache) can be installed. */
const OFFLINE = {
  ...process.env,
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
};

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function outcome(
  command: string,
  args: readonly string[],
  cwd: string,
  timeout: number,
): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(command, args, {
      cwd,
      env: OFFLINE,
      timeout,
      killSignal: 'SIGKILL',
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: `${failed.stderr ?? ''}${String(error)}`,
    };
  }
}

describe('npm install', () => {
  test('the packed tarball installs globally without a registry and ddm --version runs', async () => {
    await withTempDir(async (dir) => {
      // The prepack build is `npm run build`, which `npm test` has just run: packing the dist/ it
      // made saves a minute of tsc on a loaded machine.
      const packed = await outcome(
        'npm',
        ['pack', '--ignore-scripts', '--pack-destination', dir],
        ROOT,
        PACK_TIMEOUT_MS,
      );
      assert.equal(packed.code, 0, packed.stderr);
      const tarball = (await readdir(dir)).find((name) => /^ddm-.*\.tgz$/.test(name));
      assert.ok(tarball, `npm pack made a tarball: ${packed.stdout}`);
      const prefix = join(dir, 'prefix');
      const installed = await outcome(
        'npm',
        ['install', '-g', '--prefix', prefix, join(dir, tarball)],
        dir,
        INSTALL_TIMEOUT_MS,
      );
      assert.equal(installed.code, 0, installed.stderr);
      const version = await outcome(join(prefix, 'bin', 'ddm'), ['--version'], dir, 30_000);
      assert.equal(version.code, 0, version.stderr);
      assert.equal(version.stdout, '0.1.0\n');
      const secret = await outcome(join(prefix, 'bin', 'ddm'), ['secret'], dir, 30_000);
      assert.equal(secret.code, 0, secret.stderr);
      assert.match(secret.stdout, /^[A-Za-z0-9_-]{43}\n$/);
    });
  });

  test('prepare without TypeScript keeps a shipped dist/, and without either says what to run', async () => {
    await withTempDir(async (dir) => {
      // A checkout as `npm install -g .` sees it: sources and scripts, no node_modules.
      for (const name of ['package.json', 'scripts', 'bin', 'tsconfig.json', 'tsconfig.build.json'])
        await cp(join(ROOT, name), join(dir, name), { recursive: true });
      const noDist = await outcome('npm', ['run', 'prepare'], dir, INSTALL_TIMEOUT_MS);
      assert.notEqual(noDist.code, 0);
      assert.doesNotMatch(noDist.stderr, /tsc: not found/);
      assert.match(
        noDist.stderr,
        /ddm: cannot build dist\/: TypeScript could not be installed\. In .*, run `npm ci`/,
      );

      await mkdir(join(dir, 'dist', 'cli'), { recursive: true });
      await writeFile(join(dir, 'dist', 'cli', 'main.js'), 'export async function main() { return 0; }\n');
      const withDist = await outcome('npm', ['run', 'prepare'], dir, INSTALL_TIMEOUT_MS);
      assert.equal(withDist.code, 0, withDist.stderr);
      assert.doesNotMatch(withDist.stderr, /ddm:/);
    });
  });
});
