/**
 * Bundles the built CLI (dist/, entered through packaging/sea/launcher.mjs) with its dependencies into one CommonJS file,
 * the form Node's single-executable applications run: their `require` loads built-in modules
 * only, so every dependency must be inside the file.
 */

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { BUNDLE_FILE, ROOT, readManifest, THIRD_PARTY_FILE } from '../paths.js';

/** The bundle has no package.json beside it: dist/version.js becomes the version, inlined. */
function inlineVersion(version: string): Plugin {
  return {
    name: 'ddm-inline-version',
    setup(plugin) {
      plugin.onLoad({ filter: /[\\/]dist[\\/]version\.js$/ }, () => ({
        contents: `export const DDM_VERSION = ${JSON.stringify(version)};`,
        loader: 'js',
      }));
    },
  };
}

/**
 * The single executable has no ui/ folder or node_modules beside it: the module that reads the
 * web UI's files becomes one that holds them, read now by that same module.
 */
function inlineUiAssets(): Plugin {
  return {
    name: 'ddm-inline-ui-assets',
    setup(plugin) {
      plugin.onLoad({ filter: /[\\/]dist[\\/]gui[\\/]ui-asset-source\.js$/ }, async () => {
        const source = await import('../../src/gui/ui-asset-source.js');
        const files = Object.fromEntries(
          [...source.readUiAssetFiles()].map(([path, body]) => [path, body.toString('base64')]),
        );
        return {
          contents: [
            `export const VENDOR_MODULES = ${JSON.stringify(source.VENDOR_MODULES)};`,
            `const FILES = ${JSON.stringify(files)};`,
            'export function readUiAssetFiles() {',
            "  return new Map(Object.entries(FILES).map(([path, text]) => [path, Buffer.from(text, 'base64')]));",
            '}',
          ].join('\n'),
          loader: 'js',
        };
      });
    },
  };
}

/**
 * dist/ loads its CommonJS packages through `requirePackage(id)` (src/util/require-package.ts),
 * which esbuild cannot follow: in the bundle each call becomes the plain `require(id)` it stands
 * for, and the helper itself, whose `import.meta.url` a CommonJS bundle does not have, a stub.
 */
function plainRequires(): Plugin {
  return {
    name: 'ddm-plain-requires',
    setup(plugin) {
      plugin.onLoad({ filter: /[\\/]dist[\\/]util[\\/]require-package\.js$/ }, () => ({
        contents:
          "export function requirePackage(id) { throw new Error('requirePackage left in the bundle: ' + id); }",
        loader: 'js',
      }));
      plugin.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!source.includes('requirePackage(')) return undefined;
        return { contents: source.replace(/\brequirePackage\(/g, 'require('), loader: 'js' };
      });
    },
  };
}

export async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [join(ROOT, 'packaging', 'sea', 'launcher.mjs')],
    outfile: BUNDLE_FILE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // The launcher's shebang is the node binary itself here.
    banner: { js: '"use strict";' },
    legalComments: 'eof',
    logLevel: 'warning',
    // ws tries its optional native addons with require(); a single executable can load none, and
    // the failed attempt prints a warning on every start. Node's own code does their work.
    define: { 'process.env.WS_NO_BUFFER_UTIL': '"1"', 'process.env.WS_NO_UTF_8_VALIDATE': '"1"' },
    plugins: [inlineVersion(readManifest().version), inlineUiAssets(), plainRequires()],
    metafile: true,
  });
  const undecided = result.warnings.filter((warning) => /require|import/i.test(warning.text));
  if (undecided.length > 0) {
    throw new Error(
      `dynamic requires the bundle cannot resolve:\n${undecided.map((w) => w.text).join('\n')}`,
    );
  }
  writeFileSync(
    THIRD_PARTY_FILE,
    `${JSON.stringify(bundledPackages(Object.keys(result.metafile.inputs)), null, 2)}\n`,
  );
  return BUNDLE_FILE;
}

export interface BundledPackage {
  name: string;
  version: string;
  license: string;
  /** The package's own LICENSE file, when it has one. */
  licenseText?: string;
}

/** The npm packages whose code went into the bundle, for the copyright file of the .deb. */
function bundledPackages(inputs: string[]): BundledPackage[] {
  const roots = new Set<string>();
  for (const input of inputs) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match?.[1]) roots.add(match[1]);
  }
  return [...roots].sort().map((root) => {
    const dir = join(ROOT, root);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, string>;
    const licenseFile = readdirSync(dir).find((name) => /^(licen[cs]e|copying)/i.test(name));
    return {
      name: manifest.name ?? root,
      version: manifest.version ?? '?',
      license: manifest.license ?? 'see its LICENSE',
      ...(licenseFile ? { licenseText: readFileSync(join(dir, licenseFile), 'utf8').trim() } : {}),
    };
  });
}
