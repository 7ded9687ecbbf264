/** Where the packaging scripts read from and write to; packaging/build/ is git-ignored. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
export const BUILD_DIR = join(ROOT, 'packaging', 'build');
/** The project bundled into one CommonJS file, the single executable's script. */
export const BUNDLE_FILE = join(BUILD_DIR, 'ddm.cjs');
/** The npm packages inside the bundle, with their licenses (written by the bundler). */
export const THIRD_PARTY_FILE = join(BUILD_DIR, 'third-party.json');
/** The single executable: a copy of the node binary with the bundle injected. */
export const SEA_BINARY = join(BUILD_DIR, 'ddm');

export interface PackageManifest {
  name: string;
  version: string;
  description: string;
  license: string;
}

export function readManifest(): PackageManifest {
  return JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageManifest;
}
