/**
 * The version of this build. package.json is the one place it is written: this module reads it
 * beside dist/ (or src/ under tsx, or the installed npm package), and the single-executable
 * bundle replaces this module with the value inlined at build time (packaging/bundle.mjs), since
 * a bundled binary has no package.json next to it.
 */
import { readFileSync } from 'node:fs';

function readPackageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  if (typeof manifest.version !== 'string') throw new Error('package.json has no version');
  return manifest.version;
}

export const DDM_VERSION: string = readPackageVersion();
