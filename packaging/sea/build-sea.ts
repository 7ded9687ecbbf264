/**
 * `npm run package`: the single executable packaging/build/ddm, which needs no Node on the
 * machine. The CLI is bundled into one CommonJS file, turned into a blob by Node's
 * single-executable-application support, and injected into a copy of this node binary with
 * postject (the sentinel fuse tells the binary a blob is there).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR, BUNDLE_FILE, SEA_BINARY } from '../paths.js';
import { bundle } from './bundle.js';

/** Node's fixed marker that postject flips to say "a blob is injected". */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const BLOB_FILE = join(BUILD_DIR, 'sea-prep.blob');
const SEA_CONFIG_FILE = join(BUILD_DIR, 'sea-config.json');

function writeSeaConfig(): void {
  const config = {
    main: BUNDLE_FILE,
    output: BLOB_FILE,
    // The warning would precede every command's output; the feature is what we ship.
    disableExperimentalSEAWarning: true,
    // V8's code cache in the blob: the binary starts without compiling the 2.5 MB bundle.
    useCodeCache: true,
  };
  writeFileSync(SEA_CONFIG_FILE, `${JSON.stringify(config, null, 2)}\n`);
}

export async function buildSea(): Promise<string> {
  mkdirSync(BUILD_DIR, { recursive: true });
  await bundle();
  writeSeaConfig();
  execFileSync(process.execPath, ['--experimental-sea-config', SEA_CONFIG_FILE], { stdio: 'inherit' });
  // Unlinked first: a ddm still running from the last build would make the copy fail (ETXTBSY).
  rmSync(SEA_BINARY, { force: true });
  copyFileSync(process.execPath, SEA_BINARY);
  chmodSync(SEA_BINARY, 0o755);
  // Node's symbols and debug info are a third of its size and no use to users; the dynamic
  // symbol table that native code needs stays. Stripped before the blob goes in.
  execFileSync('strip', ['--strip-unneeded', '--remove-section=.comment', SEA_BINARY]);
  const postject = join(import.meta.dirname, '..', '..', 'node_modules', 'postject', 'dist', 'cli.js');
  // postject's ELF writer warns about note sections it does not name; only a failure matters.
  execFileSync(
    process.execPath,
    [postject, SEA_BINARY, 'NODE_SEA_BLOB', BLOB_FILE, '--sentinel-fuse', SEA_FUSE],
    {
      stdio: 'pipe',
    },
  );
  const version = execFileSync(SEA_BINARY, ['--version'], { encoding: 'utf8' }).trim();
  process.stderr.write(`ddm: built ${SEA_BINARY} (ddm ${version}, node ${process.version})\n`);
  return SEA_BINARY;
}

if (process.argv[1] === import.meta.filename) await buildSea();
