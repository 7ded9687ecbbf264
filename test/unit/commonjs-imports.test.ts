/**
 * No module under src/ imports a CommonJS package by value: those go through `requirePackage`
 * (src/util/require-package.ts). Node runs its export lexer over every CommonJS file an ES module
 * imports, and at every start that cost ~100 ms of TurboFan and ~5 MiB of a download's peak RSS.
 * Type-only imports cost nothing at run time and are allowed.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/**
 * `import ... from 'pkg'`, `import 'pkg'` and `import('pkg')` of a package (not relative, not
 * node:); `typeof import('pkg')` is a type.
 */
const PACKAGE_IMPORT =
  /(?:^|[;\s])(?<!typeof\s+)import\s*(\(\s*)?([^'"();]*?)(?:\bfrom\s*)?['"]([^./][^'"]*)['"]/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** `import type X`, or `import { type A, type B }`: erased by the compiler. */
function typeOnly(clause: string): boolean {
  const trimmed = clause.trim();
  if (/^type\s/.test(trimmed)) return true;
  const named = /^\{([^}]*)\}$/.exec(trimmed);
  if (named === null) return false;
  const names = named[1]!
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  return names.length > 0 && names.every((name) => name.startsWith('type '));
}

/** Packages a file imports by value. */
function valueImports(file: string): string[] {
  const text = withoutComments(readFileSync(file, 'utf8'));
  return [...text.matchAll(PACKAGE_IMPORT)]
    .filter(([, dynamic, clause]) => dynamic !== undefined || !typeOnly(clause ?? ''))
    .map(([, , , specifier]) => specifier!)
    .filter((specifier) => !specifier.startsWith('node:'));
}

/** How Node loads the file `specifier` resolves to when imported: by extension, else its package's `type`. */
function formatOf(specifier: string): 'module' | 'commonjs' {
  const path = fileURLToPath(import.meta.resolve(specifier));
  if (path.endsWith('.mjs')) return 'module';
  if (path.endsWith('.cjs')) return 'commonjs';
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: string }).type === 'module'
        ? 'module'
        : 'commonjs';
    }
  }
  return 'commonjs';
}

test('the classifier tells a CommonJS package from an ES module', () => {
  assert.equal(formatOf('undici'), 'commonjs');
  assert.equal(formatOf('valibot'), 'module');
  assert.equal(typeOnly(' type Logger '), true);
  assert.equal(typeOnly('{ type A, type B }'), true);
  assert.equal(typeOnly('{ type A, b }'), false);
  assert.equal(typeOnly('pino'), false);
  assert.deepEqual(
    [
      ..."import a from 'a'; const b = requirePackage<typeof import('b')>('b'); await import('c');".matchAll(
        PACKAGE_IMPORT,
      ),
    ].map((match) => match[3]),
    ['a', 'c'],
  );
});

test('src/ imports no CommonJS package by value (requirePackage loads those)', () => {
  const offenders: string[] = [];
  let imports = 0;
  for (const file of sourceFiles(SRC)) {
    for (const specifier of valueImports(file)) {
      imports += 1;
      if (formatOf(specifier) === 'commonjs') offenders.push(`${relative(SRC, file)}: '${specifier}'`);
    }
  }
  // valibot and fast-xml-parser are ES modules imported as such: the scan found real imports.
  assert.ok(imports >= 10, `only ${imports} package imports found: the scan is broken`);
  assert.deepEqual(offenders, [], `import these with requirePackage instead:\n${offenders.join('\n')}`);
});
