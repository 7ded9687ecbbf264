/**
 * `npm run package:deb`: packaging/build/ddm_VERSION_ARCH.deb from the single executable
 * (`npm run package`), so the package needs no nodejs: Debian 12's own (18) is older than ddm
 * needs. Laid out in a staging tree, then built with `dpkg-deb --root-owner-group`; lintian runs
 * on the result when it is installed, and an error from it fails the build.
 *
 * DDM_DEB_COMPRESSION=none|gzip|xz (default xz: 70% of gzip's size, four times its time) and
 * DDM_SKIP_LINTIAN=1 make quick builds for tests; DDM_DEB_MAINTAINER names who signs the package.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Release, readReleases, releaseOf } from '../changelog.js';
import { bashCompletion } from '../completion/bash-completion.js';
import { BUILD_DIR, ROOT, readManifest, SEA_BINARY, THIRD_PARTY_FILE } from '../paths.js';
import type { BundledPackage } from '../sea/bundle.js';

const PACKAGING = join(ROOT, 'packaging');
const SYSTEM_UNITS = ['ddm-peer.service', 'ddm-tracker.service'];
const USER_UNITS = ['ddm-daemon.service'];
/** Who answers for the package; set DDM_DEB_MAINTAINER to sign a build as yourself. */
const DEFAULT_MAINTAINER = 'ddm developers <ddm@example.org>';

type Files = Map<string, { content: Buffer | string; mode: number }>;

function file(files: Files, path: string, content: Buffer | string, mode = 0o644): void {
  files.set(path, { content, mode });
}

function debianDate(isoDate: string): string {
  return new Date(`${isoDate}T00:00:00Z`).toUTCString().replace('GMT', '+0000');
}

/** Debian changelogs keep lines within 80 columns. */
function wrap(text: string, first: string, rest: string, width = 78): string {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(/\s+/)) {
    const prefix = lines.length === 0 ? first : rest;
    if (line.length > prefix.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = rest + word;
    } else {
      line += line.length > prefix.length ? ` ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join('\n');
}

/** The Debian changelog of a native package, one entry per release of CHANGELOG.md. */
function debianChangelog(releases: Release[], maintainer: string): string {
  return releases
    .map((release) => {
      const items = release.changes.map((change) => wrap(change, '  * ', '    ')).join('\n');
      return `ddm (${release.version}) unstable; urgency=medium\n\n${items}\n\n -- ${maintainer}  ${debianDate(release.date)}\n`;
    })
    .join('\n');
}

function copyright(packages: BundledPackage[]): string {
  const mit = readFileSync(join(PACKAGING, 'deb', 'mit-license.txt'), 'utf8').trim();
  const bundled = packages.map(
    (pkg) =>
      `--- ${pkg.name} ${pkg.version} (${pkg.license})\n\n${pkg.licenseText ?? `See https://www.npmjs.com/package/${pkg.name}`}\n`,
  );
  return `ddm: a distributed download manager for one LAN.

Copyright: the ddm developers
License: MIT

${mit}

/usr/bin/ddm is a Node.js single-executable application: the node binary
(Copyright Node.js contributors; MIT, with the third-party code it lists in
https://github.com/nodejs/node/blob/main/LICENSE) with ddm and the npm
packages below bundled into it. Their licenses follow.

${bundled.join('\n')}`;
}

/** Runtime dependencies of the binary's shared libraries, as dpkg-shlibdeps finds them. */
function sharedLibraryDepends(binary: string, scratch: string): string {
  mkdirSync(join(scratch, 'debian'), { recursive: true });
  writeFileSync(join(scratch, 'debian', 'control'), 'Source: ddm\n\nPackage: ddm\nArchitecture: any\n');
  // Its warnings are about a debian/ tree this build does not have, and Node's own link flags.
  const output = execFileSync('dpkg-shlibdeps', ['-O', '-e', binary], {
    cwd: scratch,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const depends = /shlibs:Depends=(.*)/.exec(output)?.[1];
  if (!depends) throw new Error(`dpkg-shlibdeps found no dependencies for ${binary}: ${output}`);
  return depends.trim();
}

function control(
  version: string,
  arch: string,
  depends: string,
  installedKiB: number,
  maintainer: string,
): string {
  return `Package: ddm
Version: ${version}
Architecture: ${arch}
Maintainer: ${maintainer}
Installed-Size: ${installedKiB}
Depends: ${depends}
Suggests: bash-completion
Section: net
Priority: optional
Description: distributed download manager for the machines of one LAN
 ddm downloads one large file with the help of the other machines on the
 LAN: helpers (peers) fetch byte ranges from the origin over their own
 internet links and stream them to the client, which writes every byte at
 its offset. Downloads resume after a crash and always come from one version
 of the file; peers are not open proxies and their bytes are spot-checked.
 .
 This package ships ddm as one executable with its own Node.js runtime, the
 manual page, bash completion, and systemd units for a peer and a tracker
 (system services) and for the daemon (a user service).
`;
}

function stage(version: string, releases: Release[], maintainer: string): Files {
  const files: Files = new Map();
  const release = releaseOf(version, releases);
  file(files, 'usr/bin/ddm', readFileSync(SEA_BINARY), 0o755);
  const manPage = readFileSync(join(PACKAGING, 'man', 'ddm.1.in'), 'utf8')
    .replaceAll('@VERSION@', version)
    .replaceAll('@DATE@', release.date);
  file(files, 'usr/share/man/man1/ddm.1.gz', gzipSync(manPage, { level: 9 }));
  file(files, 'usr/share/bash-completion/completions/ddm', bashCompletion(SEA_BINARY));
  for (const unit of SYSTEM_UNITS)
    file(files, `usr/lib/systemd/system/${unit}`, readFileSync(join(PACKAGING, 'systemd', unit)));
  for (const unit of USER_UNITS)
    file(files, `usr/lib/systemd/user/${unit}`, readFileSync(join(PACKAGING, 'systemd', unit)));
  file(files, 'etc/ddm/config.json', readFileSync(join(PACKAGING, 'etc', 'config.json')));
  const packages = JSON.parse(readFileSync(THIRD_PARTY_FILE, 'utf8')) as BundledPackage[];
  file(files, 'usr/share/doc/ddm/copyright', copyright(packages));
  file(
    files,
    'usr/share/doc/ddm/changelog.gz',
    gzipSync(debianChangelog(releases, maintainer), { level: 9 }),
  );
  file(files, 'usr/share/lintian/overrides/ddm', readFileSync(join(PACKAGING, 'deb', 'lintian-overrides')));
  return files;
}

function writeTree(root: string, files: Files): void {
  rmSync(root, { recursive: true, force: true });
  for (const [path, { content, mode }] of files) {
    const target = join(root, path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeFileSync(target, content);
    chmodSync(target, mode);
  }
}

function installedKiB(files: Files): number {
  let bytes = 0;
  for (const { content } of files.values()) bytes += Math.ceil(Buffer.byteLength(content) / 1024) * 1024;
  return Math.ceil(bytes / 1024);
}

function md5sums(files: Files): string {
  return [...files.entries()]
    .filter(([path]) => !path.startsWith('etc/'))
    .map(([path, { content }]) => `${createHash('md5').update(content).digest('hex')}  ${path}\n`)
    .join('');
}

function writeControlArea(root: string, files: Files, controlText: string): void {
  const debian = join(root, 'DEBIAN');
  mkdirSync(debian, { recursive: true, mode: 0o755 });
  writeFileSync(join(debian, 'control'), controlText);
  writeFileSync(
    join(debian, 'conffiles'),
    [...files.keys()]
      .filter((path) => path.startsWith('etc/'))
      .map((path) => `/${path}\n`)
      .join(''),
  );
  writeFileSync(join(debian, 'md5sums'), md5sums(files));
  for (const script of ['postinst', 'prerm', 'postrm']) {
    copyFileSync(join(PACKAGING, 'deb', script), join(debian, script));
    chmodSync(join(debian, script), 0o755);
  }
  for (const name of ['control', 'conffiles', 'md5sums']) chmodSync(join(debian, name), 0o644);
}

/** Directories dpkg-deb packs keep the mode they have on disk: 0755, whatever the umask. */
function fixDirectoryModes(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) fixDirectoryModes(path);
  }
}

function runLintian(deb: string): void {
  try {
    execFileSync('lintian', ['--version'], { stdio: 'ignore' });
  } catch {
    process.stderr.write('ddm: lintian is not installed; the package was not checked\n');
    return;
  }
  const result = execFileSync('lintian', ['--fail-on', 'error', '--display-info', deb], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.stderr.write(
    result.trim() === '' ? 'ddm: lintian: no errors, no warnings\n' : `ddm: lintian:\n${result}`,
  );
}

export function buildDeb(): string {
  if (!existsSync(SEA_BINARY))
    throw new Error(`${relative(ROOT, SEA_BINARY)} is missing: run npm run package`);
  const { version } = readManifest();
  const maintainer = process.env.DDM_DEB_MAINTAINER ?? DEFAULT_MAINTAINER;
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  const files = stage(version, readReleases(), maintainer);
  const root = join(BUILD_DIR, 'deb', `ddm_${version}_${arch}`);
  writeTree(root, files);
  const depends = sharedLibraryDepends(join(root, 'usr', 'bin', 'ddm'), join(BUILD_DIR, 'deb', 'shlibdeps'));
  writeControlArea(root, files, control(version, arch, depends, installedKiB(files), maintainer));
  fixDirectoryModes(root);
  const deb = join(BUILD_DIR, `ddm_${version}_${arch}.deb`);
  const compression = process.env.DDM_DEB_COMPRESSION ?? 'xz';
  execFileSync('dpkg-deb', ['--root-owner-group', `-Z${compression}`, '--build', root, deb], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  rmSync(root, { recursive: true, force: true });
  process.stderr.write(`ddm: built ${deb} (${(statSync(deb).size / 1024 / 1024).toFixed(1)} MiB)\n`);
  if (process.env.DDM_SKIP_LINTIAN !== '1') runLintian(deb);
  return deb;
}

if (process.argv[1] === import.meta.filename) buildDeb();
