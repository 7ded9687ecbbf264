/**
 * The file every tool downloads: random bytes (so nothing on the path can compress them), written
 * once per benchmark in 1 MiB blocks and hashed on the way out so outputs can be checked.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, statfs } from 'node:fs/promises';
import { BenchError, throwIfAborted } from './bench-error.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
const BLOCK_BYTES = MiB;
const UNIT_BYTES: Record<string, number> = { '': 1, K: 1024, M: MiB, G: GiB };

/** Parses sizes such as `64M`, `1G`, `4G` or plain bytes (binary units). */
export function parseSize(text: string): number {
  const match = /^(\d+)([KMG])?(?:i?B)?$/i.exec(text.trim());
  const unit = UNIT_BYTES[(match?.[2] ?? '').toUpperCase()];
  if (match?.[1] === undefined || unit === undefined || Number(match[1]) === 0) {
    throw new BenchError('USAGE', `bad size "${text}": use e.g. 64M, 1G or 4G`);
  }
  return Number(match[1]) * unit;
}

export function formatSize(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  return `${bytes} bytes`;
}

function gib(bytes: number): string {
  return (bytes / GiB).toFixed(1);
}

/** Fails early, with the numbers, rather than half way through a run with ENOSPC. */
export async function ensureFreeSpace(dir: string, neededBytes: number, purpose: string): Promise<void> {
  const stats = await statfs(dir);
  const freeBytes = stats.bavail * stats.bsize;
  if (freeBytes < neededBytes) {
    throw new BenchError(
      'DISK_SPACE',
      `not enough disk space in ${dir} for ${purpose}: need ${gib(neededBytes)} GiB, ` +
        `${gib(freeBytes)} GiB free (see \`df -h ${dir}\`); set TMPDIR to a roomier file system or use a smaller --size`,
    );
  }
}

/** Writes `sizeBytes` random bytes to `path` and returns their SHA-256 in hex. */
export async function writeRandomFile(path: string, sizeBytes: number, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(BLOCK_BYTES);
  const file = await open(path, 'w');
  try {
    for (let offset = 0; offset < sizeBytes; offset += BLOCK_BYTES) {
      throwIfAborted(signal);
      const chunk = block.subarray(0, Math.min(BLOCK_BYTES, sizeBytes - offset));
      randomFillSync(chunk);
      hash.update(chunk);
      await file.write(chunk, 0, chunk.length, offset);
    }
    // Flushed now, so the first timed run does not compete with its write-back.
    await file.sync();
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

export async function sha256File(path: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: BLOCK_BYTES, signal })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
