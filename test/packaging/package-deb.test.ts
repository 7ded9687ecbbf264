/**
 * The Debian package for real: built from the single executable, installed with `dpkg -i`, run
 * with no `node` anywhere on PATH (downloads, the demo, a service's command line with the shipped
 * config), its systemd units verified and rated, then purged, leaving nothing behind.
 *
 * Installing packages needs root (CI runs as root) and a Debian system; elsewhere the test is a
 * todo with the reason, so that `npm test` keeps running for everyone else. It never touches a
 * ddm package that was installed before it ran.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { sha256, sha256OfFile, testData } from '../helpers/cli.js';
import { startTestOrigin } from '../helpers/test-origin.js';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
/** Bundling, injecting and packing a 90 MB binary: about a minute each on a 2-core machine under load. */
const BUILD_TIMEOUT_MS = 300_000;
const RUN_TIMEOUT_MS = 60_000;
/** dpkg waits this long for another dpkg or apt on the machine to finish. */
const DPKG_LOCK_WAIT_MS = 60_000;
const SECRET = 'package-test-secret-0123456789';
const { version: VERSION } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

const INSTALLED_PATHS = [
  '/usr/bin/ddm',
  '/usr/share/man/man1/ddm.1.gz',
  '/usr/share/bash-completion/completions/ddm',
  '/usr/lib/systemd/system/ddm-peer.service',
  '/usr/lib/systemd/system/ddm-tracker.service',
  '/usr/lib/systemd/user/ddm-daemon.service',
  '/etc/ddm/config.json',
  '/usr/share/doc/ddm/copyright',
];
const SYSTEM_UNITS = [
  '/usr/lib/systemd/system/ddm-peer.service',
  '/usr/lib/systemd/system/ddm-tracker.service',
];
const ENABLED_LINK = '/etc/systemd/system/multi-user.target.wants/ddm-peer.service';
/** What `systemd-analyze security` must rate the system units at most (lower is safer). */
const MAX_EXPOSURE = 2.0;

function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {},
) {
  return execFileAsync(command, [...args], {
    timeout: options.timeout ?? RUN_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
}

/** Whether anything is at `path`, a dangling symlink included. */
function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

async function commandExists(name: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${name}`]).then(
    () => true,
    () => false,
  );
}

/** One field of the ddm package as dpkg knows it: dpkg-query's format is `${Field}`. */
async function packageField(field: string): Promise<string> {
  return (await run('dpkg-query', ['-W', `-f=\${${field}}`, 'ddm'])).stdout;
}

async function installedBefore(): Promise<boolean> {
  return packageField('Status').then(
    (status) => status.includes('installed') || status.includes('config-files'),
    () => false,
  );
}

/** dpkg with its own retry while another package manager holds the lock. */
async function dpkg(args: readonly string[]): Promise<void> {
  const deadline = Date.now() + DPKG_LOCK_WAIT_MS;
  for (;;) {
    try {
      await run('dpkg', args, { timeout: RUN_TIMEOUT_MS * 2 });
      return;
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr);
      if (!/lock/i.test(stderr) || Date.now() > deadline) throw error;
      await delay(1_000);
    }
  }
}

async function whyNot(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root to install a package: run `npm test` as root (CI does)';
  for (const tool of ['dpkg', 'dpkg-deb', 'dpkg-shlibdeps', 'systemd-analyze', 'strip']) {
    if (!(await commandExists(tool))) return `needs ${tool} (apt-get install dpkg-dev binutils systemd)`;
  }
  if (await installedBefore()) return 'a ddm package is installed on this machine: the test would remove it';
  return undefined;
}

const reason = await whyNot();

if (reason) {
  test('the Debian package installs, runs without node, and purges clean', { todo: reason }, () => {});
} else {
  describe('the Debian package', { timeout: BUILD_TIMEOUT_MS + 6 * RUN_TIMEOUT_MS }, () => {
    let work = '';
    let deb = '';
    /** A PATH with ddm on it and no node: the binary must bring its own runtime. */
    let bareEnv: NodeJS.ProcessEnv = {};

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'ddm-deb-'));
      const env = { ...process.env, DDM_DEB_COMPRESSION: 'none', DDM_SKIP_LINTIAN: '1' };
      // dist/ is built by `npm test`; the packaging scripts do not rebuild it.
      await run(process.execPath, ['--import', 'tsx', 'packaging/sea/build-sea.ts'], {
        cwd: ROOT,
        env,
        timeout: BUILD_TIMEOUT_MS,
      });
      await run(process.execPath, ['--import', 'tsx', 'packaging/deb/build-deb.ts'], {
        cwd: ROOT,
        env,
        timeout: BUILD_TIMEOUT_MS,
      });
      const built = (await readdir(join(ROOT, 'packaging', 'build'))).filter((name) =>
        name.startsWith(`ddm_${VERSION}_`),
      );
      assert.equal(built.length, 1, `one .deb expected, found ${built.join(' ')}`);
      deb = join(ROOT, 'packaging', 'build', built[0]!);
      const bin = join(work, 'bin');
      await mkdir(bin);
      await symlink('/usr/bin/ddm', join(bin, 'ddm'));
      bareEnv = { PATH: bin, HOME: work, XDG_CONFIG_HOME: join(work, 'config') };
    });

    after(async () => {
      if (await installedBefore()) await dpkg(['--purge', 'ddm']).catch(() => {});
      if (work) await rm(work, { recursive: true, force: true });
    });

    test('dpkg -i installs the binary, the man page, the completion, the units and the config', async () => {
      await dpkg(['-i', deb]);
      for (const path of INSTALLED_PATHS) assert.ok(present(path), `${path} is not installed`);
      assert.match(await packageField('Conffiles'), /\/etc\/ddm\/config\.json/);
      assert.doesNotMatch(
        await packageField('Depends'),
        /nodejs/,
        'the package must not need Debian’s nodejs',
      );
      const man = gunzipSync(readFileSync('/usr/share/man/man1/ddm.1.gz')).toString();
      assert.match(
        man,
        new RegExp(`^\\.TH DDM 1 "\\d{4}-\\d{2}-\\d{2}" "ddm ${VERSION.replaceAll('.', '\\.')}"`, 'm'),
      );
      for (const section of ['COMMANDS', 'OPTIONS', 'ENVIRONMENT', 'FILES', 'EXIT STATUS'])
        assert.match(man, new RegExp(`^\\.SH ${section}$`, 'm'), `the man page has no ${section}`);
    });

    test('with no node on PATH: ddm --version, ddm get from a local origin, ddm demo', async () => {
      await assert.rejects(
        run('sh', ['-c', 'command -v node'], { env: bareEnv }),
        'node must not be on PATH',
      );
      const shown = await run('ddm', ['--version'], { env: bareEnv, cwd: work });
      assert.equal(shown.stdout.trim(), VERSION);

      const data = testData(6 * 1024 * 1024, 15);
      const origin = await startTestOrigin({ data });
      try {
        const output = join(work, 'got.bin');
        await run('ddm', ['get', origin.url, '-o', output, '--quiet'], { env: bareEnv, cwd: work });
        assert.equal(await sha256OfFile(output), sha256(data));
      } finally {
        await origin.close();
      }

      const demo = await run('ddm', ['demo', '--size', '16'], { env: bareEnv, cwd: work });
      assert.match(demo.stderr, /every file matched its SHA-256/);
    });

    test('the installed binary serves the web UI from inside itself: pages, its files, preact and htm', async () => {
      const child = spawn('ddm', ['daemon', '--listen', '127.0.0.1:0', '--dir', work], {
        env: { ...bareEnv, XDG_STATE_HOME: join(work, 'ui-state') },
        cwd: work,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk));
      const exited = new Promise<number | null>((resolveExit) => child.on('close', resolveExit));
      try {
        const deadline = Date.now() + RUN_TIMEOUT_MS;
        const printed = () => /web UI at (http:\/\/127\.0\.0\.1:\d+)\/\?login=/.exec(output)?.[1];
        while (!printed()) {
          assert.ok(child.exitCode === null, `the daemon exited: ${output}`);
          assert.ok(Date.now() < deadline, `the daemon did not start: ${output}`);
          await delay(50);
        }
        for (const path of [
          '/',
          '/ui/app.js',
          '/ui/style.css',
          '/ui/vendor/preact.mjs',
          '/ui/vendor/htm.mjs',
        ]) {
          const response = await fetch(`${printed()}${path}`, {
            signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
          });
          assert.equal(response.status, 200, `${path}: ${response.status}`);
          assert.ok((await response.text()).length > 100, `${path} is empty`);
        }
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal(await exited, 0, `SIGTERM is a clean stop: ${output}`);
    });

    test('the tracker starts as its unit starts it: the shipped config, the secret in DDM_SECRET', async () => {
      // The unit's command line, with a loopback address for the test instead of the config's.
      const child = spawn('ddm', ['--config', '/etc/ddm/config.json', 'tracker', '--listen', '127.0.0.1:0'], {
        env: { ...bareEnv, DDM_SECRET: SECRET },
        cwd: work,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk));
      const exited = new Promise<number | null>((resolveExit) => child.on('close', resolveExit));
      try {
        const deadline = Date.now() + RUN_TIMEOUT_MS;
        while (!/listening on http:\/\/127\.0\.0\.1:\d+/.test(output)) {
          assert.ok(child.exitCode === null, `the tracker exited: ${output}`);
          assert.ok(Date.now() < deadline, `the tracker did not start: ${output}`);
          await delay(50);
        }
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal(await exited, 0, `SIGTERM is a clean stop: ${output}`);
    });

    test('the bash completion completes commands and options', async (t) => {
      const framework = '/usr/share/bash-completion/bash_completion';
      if (!existsSync(framework)) {
        t.todo('needs the bash-completion package');
        return;
      }
      const complete = async (...words: string[]) => {
        const script = `source ${framework}; source /usr/share/bash-completion/completions/ddm
COMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}
COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}; _ddm; echo "\${COMPREPLY[*]}"`;
        return (await run('bash', ['-c', script])).stdout.trim().split(/\s+/);
      };
      assert.deepEqual(await complete('ddm', 'pe'), ['peer', 'peers']);
      assert.ok((await complete('ddm', 'get', '--conn')).includes('--connections'));
      assert.deepEqual(await complete('ddm', 'peer', '--accept', ''), ['auto', 'ask', 'never']);
    });

    test('systemd-analyze verifies every unit and rates the system units 2.0 or better', async () => {
      await run('systemd-analyze', ['verify', ...SYSTEM_UNITS]);
      await run('systemd-analyze', ['--user', 'verify', '/usr/lib/systemd/user/ddm-daemon.service'], {
        env: { ...process.env, XDG_RUNTIME_DIR: work },
      });
      for (const unit of SYSTEM_UNITS) {
        const { stdout } = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', unit]);
        const level = /Overall exposure level for \S+: (\d+\.\d+)/.exec(stdout)?.[1];
        assert.ok(level !== undefined, `no rating for ${unit}: ${stdout}`);
        assert.ok(
          Number(level) <= MAX_EXPOSURE,
          `${unit} is rated ${level}, more exposed than ${MAX_EXPOSURE}`,
        );
      }
    });

    test('dpkg --purge leaves nothing: files, config, the secret, the links that enabled a unit', async () => {
      // What an administrator adds after installing: the secret and an enabled service.
      await writeFile('/etc/ddm/secret', `${SECRET}\n`, { mode: 0o600 });
      await run('systemctl', ['enable', 'ddm-peer.service']);
      assert.ok(present(ENABLED_LINK), 'systemctl enable made no link');
      await dpkg(['--purge', 'ddm']);
      for (const path of [
        ...INSTALLED_PATHS,
        '/etc/ddm/secret',
        '/etc/ddm',
        '/usr/share/doc/ddm',
        ENABLED_LINK,
      ])
        assert.ok(!present(path), `${path} is left after purge`);
      assert.equal(await installedBefore(), false, 'dpkg still knows the package');
    });
  });
}
