/**
 * What every scenario needs before it can time anything: the tools, a work dir, the random
 * source files and nginx serving them. Torn down in reverse order whatever happens.
 */
import { join } from 'node:path';
import { ensureFreeSpace, formatSize, MiB, writeRandomFile } from './data-file.js';
import { describeMachine } from './machine.js';
import type { SourceFile } from './measure.js';
import { startOrigin } from './nginx.js';
import { ensureSystemTools, type SystemTools } from './system-tools.js';
import { createWorkspace, type Workspace } from './workspace.js';

/** Room for logs, nginx and file-system slack on top of the data itself. */
const DISK_MARGIN_BYTES = 256 * MiB;

export interface Session {
  readonly tools: SystemTools;
  readonly workspace: Workspace;
  readonly sources: readonly SourceFile[];
}

export function progress(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

function fileName(sizeBytes: number): string {
  return `random-${formatSize(sizeBytes).replace(' ', '')}.bin`;
}

async function makeSources(
  workspace: Workspace,
  sizes: readonly number[],
  baseUrl: string,
  signal: AbortSignal,
) {
  const sources: SourceFile[] = [];
  for (const sizeBytes of sizes) {
    const name = fileName(sizeBytes);
    const started = performance.now();
    const sha256 = await writeRandomFile(join(workspace.servedDir, name), sizeBytes, signal);
    progress(
      `wrote ${formatSize(sizeBytes)} of random data in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    sources.push({ fileName: name, url: new URL(name, baseUrl).href, sizeBytes, sha256 });
  }
  return sources;
}

/** `sizes`: one source file per entry; one download of the largest is on disk at a time. */
export async function withSession<T>(
  sizes: readonly number[],
  signal: AbortSignal,
  body: (session: Session) => Promise<T>,
): Promise<T> {
  const tools = await ensureSystemTools();
  process.stdout.write(`${await describeMachine(tools)}\n`);
  const workspace = await createWorkspace();
  try {
    const neededBytes = sizes.reduce((sum, size) => sum + size, 0) + Math.max(...sizes) + DISK_MARGIN_BYTES;
    await ensureFreeSpace(
      workspace.root,
      neededBytes,
      `${sizes.map(formatSize).join(' + ')} and one download`,
    );
    progress(`work dir ${workspace.root}`);
    const origin = await startOrigin({
      nginx: tools.nginx,
      workDir: workspace.root,
      servedDir: workspace.servedDir,
      signal,
    });
    try {
      progress(`nginx serving on ${origin.baseUrl}`);
      const sources = await makeSources(workspace, sizes, origin.baseUrl, signal);
      return await body({ tools, workspace, sources });
    } finally {
      await origin.stop();
    }
  } finally {
    await workspace.remove();
  }
}
