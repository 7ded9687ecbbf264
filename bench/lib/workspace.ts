/**
 * One temp work dir per benchmark: the served file(s), the outputs, nginx's files. The data is
 * made once and reused by every run; everything is removed at the end, even on Ctrl-C.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Workspace {
  readonly root: string;
  /** What nginx serves. */
  readonly servedDir: string;
  /** Where downloads land; emptied before and after every run. */
  readonly outDir: string;
  /** Where /usr/bin/time writes its report. */
  readonly timeReport: string;
  clearOutputs(): Promise<void>;
  remove(): Promise<void>;
}

const pending = new Set<string>();

/** For the 'exit' handler: synchronous, and harmless if already done. */
export function removeAllWorkspacesNow(): void {
  for (const root of pending) rmSync(root, { recursive: true, force: true });
  pending.clear();
}

export async function createWorkspace(): Promise<Workspace> {
  const root = await mkdtemp(join(tmpdir(), 'ddm-bench-'));
  pending.add(root);
  const servedDir = join(root, 'www');
  const outDir = join(root, 'out');
  await mkdir(servedDir);
  await mkdir(outDir);
  return {
    root,
    servedDir,
    outDir,
    timeReport: join(root, 'time.txt'),
    async clearOutputs() {
      await rm(outDir, { recursive: true, force: true });
      await mkdir(outDir);
    },
    async remove() {
      await rm(root, { recursive: true, force: true });
      pending.delete(root);
    },
  };
}
