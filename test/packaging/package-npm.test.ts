/**
 * The npm package as users get it: what `npm pack` puts in the tarball (the program and its
 * library API, nothing of the tests, benchmarks, sources or CI), and that the tarball installs
 * with `npm install -g` into a fresh prefix and runs from there, with only Node on the machine.
 *
 * dist/ is built by `npm test` before the tests run, so packing here skips the prepare script
 * (rebuilding dist/ would race any test run beside this one that runs it).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
/** npm install fetches the dependencies (from its cache when it can): slow on a loaded machine. */
const INSTALL_TIMEOUT_MS = 150_000;
const RUN_TIMEOUT_MS = 60_000;
const DEMO_SIZE_MIB = '16';

interface PackedFile {
  path: string;
}

async function npm(args: readonly string[], cwd: string, timeout = INSTALL_TIMEOUT_MS) {
  return execFileAsync('npm', [...args], {
    cwd,
    timeout,
    maxBuffer: 16 * 1024 * 1024,
    env: {
      ...process.env,
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    },
  });
}

async function packedFiles(): Promise<string[]> {
  const { stdout } = await npm(['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT);
  const [report] = JSON.parse(stdout) as [{ files: PackedFile[] }];
  return report.files.map((file) => file.path).sort();
}

describe('the npm package', { timeout: INSTALL_TIMEOUT_MS + 4 * RUN_TIMEOUT_MS }, () => {
  let work = '';
  let prefix = '';
  const version = async () =>
    (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ddm-npm-'));
    prefix = join(work, 'prefix');
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the tarball holds the program, its types and docs, and nothing of the tests, benchmarks or sources', async () => {
    const files = await packedFiles();
    for (const needed of [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'bin/ddm.js',
      'dist/cli/main.js',
      'dist/version.js',
      'dist/index.js',
      'dist/index.d.ts',
      'ui/app.js',
      'ui/style.css',
      'node_modules/preact/dist/preact.mjs',
      'node_modules/preact/hooks/dist/hooks.mjs',
      'node_modules/htm/dist/htm.mjs',
    ]) {
      assert.ok(files.includes(needed), `${needed} is missing from the tarball`);
    }
    // The runtime dependencies travel inside the tarball (bundleDependencies), so it installs
    // without a registry: node_modules/ holds exactly those, as their authors publish them.
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const name of Object.keys(manifest.dependencies)) {
      assert.ok(files.includes(`node_modules/${name}/package.json`), `${name} is not bundled`);
    }
    const ours = files.filter((path) => !path.startsWith('node_modules/'));
    const unwanted = ours.filter(
      (path) =>
        /^(test|bench|src|packaging|docs|\.ci)\//.test(path) ||
        /\.(map|tsbuildinfo)$/.test(path) ||
        /(^|\/)[^/]*\.test\.[^/]+$/.test(path) ||
        /^(tsconfig|biome)/.test(path),
    );
    assert.deepEqual(unwanted, [], 'files that have no business in the package');
    // Every file under dist/ comes from src/: a stray output would have no source to match.
    const outputs = files.filter((path) => path.startsWith('dist/'));
    assert.ok(
      outputs.every((path) => /\.(js|d\.ts)$/.test(path)),
      `odd files in dist/: ${outputs.join(' ')}`,
    );
  });

  test('npm install -g of the tarball gives a ddm that runs: --version, demo, and the library API', async () => {
    const { stdout: packed } = await npm(
      ['pack', '--json', '--ignore-scripts', '--pack-destination', work],
      ROOT,
    );
    const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
    const tarball = join(work, filename);
    await npm(
      ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball],
      work,
    );

    const ddm = join(prefix, 'bin', 'ddm');
    const env = { PATH: process.env.PATH, HOME: work, XDG_CONFIG_HOME: join(work, 'config') };
    const shown = await execFileAsync(ddm, ['--version'], { cwd: work, env, timeout: RUN_TIMEOUT_MS });
    assert.equal(shown.stdout.trim(), await version());

    const demo = await execFileAsync(ddm, ['demo', '--size', DEMO_SIZE_MIB], {
      cwd: work,
      env,
      timeout: RUN_TIMEOUT_MS,
    });
    assert.match(demo.stderr, /every file matched its SHA-256/);

    // A program beside the global node_modules imports the package by name, through `exports`.
    const script = join(prefix, 'lib', 'use-ddm.mjs');
    await writeFile(
      script,
      "import { download, DDM_VERSION, DdmError } from 'ddm';\n" +
        'console.log(JSON.stringify({ download: typeof download, DdmError: typeof DdmError, DDM_VERSION }));\n',
    );
    const used = await execFileAsync(process.execPath, [script], { cwd: work, env, timeout: RUN_TIMEOUT_MS });
    assert.deepEqual(JSON.parse(used.stdout), {
      download: 'function',
      DdmError: 'function',
      DDM_VERSION: await version(),
    });
  });
});
