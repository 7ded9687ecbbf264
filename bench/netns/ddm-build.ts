/**
 * Which ddm the figures belong to: the checkout's commit and the build's time. ddm is built into
 * dist/ in place, so a rebuild during a long benchmark would mix two versions in one table; the
 * runner compares the build before and after and says so.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const GIT_TIMEOUT_MS = 10_000;
const REPO_DIR = fileURLToPath(new URL('../..', import.meta.url));
const BUILT_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface DdmBuild {
  readonly commit: string;
  /** Whether the checkout had uncommitted changes: the build may then not match the commit. */
  readonly dirty: boolean;
  readonly builtAt: Date | undefined;
}

async function git(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run('git', ['-C', REPO_DIR, ...args], { timeout: GIT_TIMEOUT_MS });
    return stdout.trim();
  } catch {
    return '';
  }
}

export async function currentDdmBuild(): Promise<DdmBuild> {
  const [commit, status, builtAt] = await Promise.all([
    git(['rev-parse', '--short', 'HEAD']),
    git(['status', '--porcelain', '--', 'src', 'bin']),
    stat(BUILT_MAIN).then(
      (stats) => stats.mtime,
      () => undefined,
    ),
  ]);
  return { commit: commit || 'unknown', dirty: status !== '', builtAt };
}

export function describeDdmBuild(build: DdmBuild): string {
  const built = build.builtAt === undefined ? 'not built' : `built ${build.builtAt.toISOString()}`;
  return `ddm: commit ${build.commit}${build.dirty ? ' with uncommitted changes in src/' : ''}, dist ${built}`;
}

export function sameBuild(a: DdmBuild, b: DdmBuild): boolean {
  return a.builtAt?.getTime() === b.builtAt?.getTime();
}
