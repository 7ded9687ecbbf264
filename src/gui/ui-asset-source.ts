/**
 * Where the web UI's files come from: the repository's ui/ folder and the three browser modules
 * of preact, its hooks and htm, read from node_modules. The single executable has neither on
 * disk, so its bundler replaces this module with one that holds the same map inline
 * (packaging/sea/bundle.ts), which is why this is the only place that reads them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Served path (below /ui/) → the module npm resolves; the import map in the page names these. */
export const VENDOR_MODULES: Readonly<Record<string, string>> = {
  'vendor/preact.mjs': 'preact',
  'vendor/preact-hooks.mjs': 'preact/hooks',
  'vendor/htm.mjs': 'htm',
};

function uiFolder(): string {
  return resolve(import.meta.dirname, '..', '..', 'ui');
}

/** Every UI file by its path below /ui/ (forward slashes). */
export function readUiAssetFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const root = uiFolder();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(root, path).split(sep).join('/'), readFileSync(path));
  }
  for (const [served, specifier] of Object.entries(VENDOR_MODULES)) {
    files.set(served, readFileSync(fileURLToPath(import.meta.resolve(specifier))));
  }
  return files;
}
