#!/usr/bin/env node
/**
 * npm's `prepare` hook: builds dist/ with TypeScript, which is a dev dependency. npm also runs
 * this where dev dependencies are absent: `npm install -g .` in a fresh clone (which installs no
 * dev dependencies), and possibly when installing the packed tarball (which ships dist/ already).
 * So: build when TypeScript is here; keep a dist/ that is already here; and in a clone that has
 * neither, install this package's own dev dependencies first (as `npm install` in it would) and
 * build, instead of failing with "tsc: not found".
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const builtEntry = join(root, 'dist', 'cli', 'main.js');

function findTsc() {
  try {
    return createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function build(tsc) {
  return run(process.execPath, [tsc, '-p', 'tsconfig.build.json']);
}

function installDevDependencies() {
  process.stderr.write(
    'ddm: TypeScript is not installed here; installing the dev dependencies to build dist/\n',
  );
  // npm_execpath is the npm that runs this hook; fall back to the one on PATH.
  const npm = process.env.npm_execpath;
  // The outer `npm install -g` hands its global mode and prefix down through the environment;
  // this install is of the clone itself, never global (that would install ddm into itself).
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^npm_config_(global|prefix|location)$/i.test(name)) delete env[name];
  }
  const args = ['install', '--no-global', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund'];
  return npm ? run(process.execPath, [npm, ...args], env) : run('npm', args, env);
}

function main() {
  // `npm pack` and `npm publish` run prepack (a plain build, which fails loudly without
  // TypeScript: a tarball must never ship a stale dist/) just before this hook.
  if (process.env.npm_command === 'pack' || process.env.npm_command === 'publish') return 0;
  const tsc = findTsc();
  if (tsc) return build(tsc);
  if (existsSync(builtEntry)) return 0;
  const installed = installDevDependencies();
  const after = installed === 0 ? findTsc() : undefined;
  if (!after) {
    process.stderr.write(
      `ddm: cannot build dist/: TypeScript could not be installed. In ${root}, run \`npm ci\` (it builds), ` +
        'or install a packed tarball: `npm pack`, then `npm install -g ./ddm-*.tgz`\n',
    );
    return 1;
  }
  return build(after);
}

process.exitCode = main();
