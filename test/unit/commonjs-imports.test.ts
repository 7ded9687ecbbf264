/**
 * No module under src/ makes Node's ES module loader load a CommonJS file: CommonJS packages go
 * through `requirePackage` (src/util/require-package.ts). The loader runs its export lexer over
 * every CommonJS file an ES module imports, directly or through a package's ES wrapper (ws's
 * wrapper.mjs, commander's esm.mjs), and at every start that cost ~100 ms of TurboFan and ~5 MiB
 * of a download's peak RSS. Checked by loading every module of src/ in a child process whose
 * loader reports each CommonJS file it loads.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');
const CHILD_TIMEOUT_MS = 90_000;
const REPORT_PREFIX = 'commonjs-through-import ';

/** A loader hook that names, on stderr, every CommonJS file the ES module loader loads. */
const REPORTING_HOOKS = `
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (result.format === 'commonjs') process.stderr.write(${JSON.stringify(REPORT_PREFIX)} + url + '\\n');
  return result;
}`;
const REGISTER_HOOKS = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(REPORTING_HOOKS)}`)});`,
)}`;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Imports `specifiers` one by one in a fresh node (with tsx for src/) and returns the CommonJS files its loader loaded. */
async function commonJsLoadedBy(specifiers: string[]): Promise<string[]> {
  const program = specifiers.map((specifier) => `await import(${JSON.stringify(specifier)});`).join('\n');
  const { stderr } = await run(
    process.execPath,
    ['--import', 'tsx', '--import', REGISTER_HOOKS, '--input-type=module', '--eval', program],
    { cwd: ROOT, timeout: CHILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
  );
  return stderr
    .split('\n')
    .filter((line) => line.startsWith(REPORT_PREFIX))
    .map((line) => line.slice(REPORT_PREFIX.length).replace(pathToFileURL(ROOT).href, ''));
}

test('the reporting loader sees a CommonJS package imported from an ES module', async () => {
  const loaded = await commonJsLoadedBy(['ipaddr.js', 'ws']);
  assert.ok(
    loaded.some((url) => url.includes('/ipaddr.js/')),
    `ipaddr.js not reported: ${loaded.join(', ')}`,
  );
  // ws is imported through its ES wrapper, which imports its CommonJS files.
  assert.ok(
    loaded.some((url) => url.includes('/ws/lib/')),
    `ws's files not reported: ${loaded.join(', ')}`,
  );
});

test('loading every module of src/ makes the ES module loader load no CommonJS file', async () => {
  const modules = sourceFiles(SRC).map((file) => pathToFileURL(file).href);
  assert.ok(modules.length > 100, `only ${modules.length} modules found under src/`);
  const loaded = await commonJsLoadedBy(modules);
  assert.deepEqual(loaded, [], `load these through requirePackage:\n${loaded.join('\n')}`);
});
