/**
 * No module under src/ imports itself through others. Type-only imports count too: they cost
 * nothing at run time, but a cycle of them is still two parts that cannot be understood (or
 * moved) apart, which is what the layering (shared types at the bottom, transport below client
 * and peer) is for.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** `from './x.js'`, `import './x.js'`, `import('./x.js')`; relative specifiers only. */
const IMPORT_SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Strips comments, so an example in a doc comment is not an import. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

function importsOf(file: string): string[] {
  const text = withoutComments(readFileSync(file, 'utf8'));
  return [...text.matchAll(IMPORT_SPECIFIER)].map((match) =>
    resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts')),
  );
}

/** Tarjan's strongly connected components; each component of two or more modules is a cycle. */
function cyclicComponents(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!graph.has(to)) continue;
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    const selfImport = graph.get(node)?.includes(node) ?? false;
    if (component.length > 1 || selfImport) components.push(component);
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return components;
}

/** One concrete loop through a component, for the failure message: a -> b -> ... -> a. */
function loopThrough(component: string[], graph: Map<string, string[]>): string[] {
  const members = new Set(component);
  const start = [...component].sort()[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const to of graph.get(node) ?? []) {
      if (!members.has(to)) continue;
      if (to === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start];
      }
      if (!previous.has(to)) {
        previous.set(to, node);
        queue.push(to);
      }
    }
  }
  return component;
}

test('no import cycle between the modules under src/, type-only imports included', () => {
  const graph = new Map(sourceFiles(SRC).map((file) => [file, importsOf(file)]));
  assert.ok(graph.size > 50, `only ${graph.size} modules found under ${SRC}`);
  const name = (file: string) => relative(SRC, file);
  const cycles = cyclicComponents(graph).map((component) => {
    const loop = loopThrough(component, graph).map(name).join(' -> ');
    return component.length > 2 ? `${loop} (all tied: ${component.map(name).sort().join(', ')})` : loop;
  });
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join('\n')}`);
});

/** The part a module belongs to: its top-level folder, with transport/'s two halves apart. */
function partOf(file: string): string {
  const [first, second] = relative(SRC, file).split('/');
  if (second === undefined) return first!;
  return first === 'transport' && !second.endsWith('.ts') ? `transport/${second}` : first!;
}

test('no cycle between the parts under src/ (folders), so each can be read with only the ones below it', () => {
  const modules = new Map(sourceFiles(SRC).map((file) => [file, importsOf(file)]));
  const parts = new Map<string, string[]>();
  for (const [file, imports] of modules) {
    const from = partOf(file);
    const to = imports.map(partOf).filter((part) => part !== from);
    parts.set(from, [...new Set([...(parts.get(from) ?? []), ...to])]);
  }
  assert.ok(parts.has('transport/client') && parts.has('transport/server'), [...parts.keys()].join(' '));
  const cycles = cyclicComponents(parts).map((component) => loopThrough(component, parts).join(' -> '));
  assert.deepEqual(cycles, [], `cycles between parts:\n${cycles.join('\n')}`);
});
