import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DownloadStore, type DownloadStoreOptions, partPath } from '../../src/storage/download-store.js';
import type { ByteRange } from '../../src/types/byte-range.js';

/** Set in the child process that this file spawns to play the download being killed. */
const CHILD_OUTPUT_ENV = 'DDM_TEST_CRASH_OUTPUT';
const SIZE = 2 * 1024 * 1024 + 321;
const PIECE_BYTES = 32 * 1024;
const CHECKPOINTS_BEFORE_KILL = 5;
const CHILD_TIMEOUT_MS = 20_000;
const signal = new AbortController().signal;

/** The same bytes in parent and child, without passing them around. */
function expectedBytes(): Buffer {
  const blocks: Buffer[] = [];
  for (let index = 0; index * 32 < SIZE; index++) {
    blocks.push(createHash('sha256').update(`block ${index}`).digest());
  }
  return Buffer.concat(blocks).subarray(0, SIZE);
}

/** Pieces in a scrambled but fixed order, as workers would finish them. */
function pieceOrder(): number[] {
  const starts: number[] = [];
  for (let start = 0; start < SIZE; start += PIECE_BYTES) starts.push(start);
  return starts
    .map((start, index) => ({ start, key: (index * 7919) % starts.length }))
    .sort((a, b) => a.key - b.key)
    .map((piece) => piece.start);
}

function storeOptions(outputPath: string): DownloadStoreOptions {
  return {
    outputPath,
    url: 'https://example.com/crash.bin',
    finalUrl: 'https://example.com/crash.bin',
    size: SIZE,
    validators: { etag: '"crash"' },
    overwrite: false,
    resumable: true,
  };
}

/** The child: writes pieces forever-slowly, checkpointing after each, until it is killed. */
async function runChild(outputPath: string): Promise<void> {
  const data = expectedBytes();
  const { store } = await DownloadStore.open(storeOptions(outputPath), signal);
  const done: ByteRange[] = [];
  let checkpoints = 0;
  for (const start of pieceOrder()) {
    const end = Math.min(start + PIECE_BYTES, SIZE);
    await store.write(data.subarray(start, end), start);
    done.push({ start, end });
    // Not awaited on purpose: checkpoints pile up while writes go on, as in the engine.
    void store.checkpoint([...done], signal).then(() => {
      checkpoints += 1;
      if (checkpoints === CHECKPOINTS_BEFORE_KILL) process.stdout.write('ready\n');
    });
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  process.stdout.write('finished\n');
}

function spawnChild(outputPath: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, [CHILD_OUTPUT_ENV]: outputPath },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('child did not report its checkpoints in time'));
    }, CHILD_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      if (text.includes('ready')) child.kill('SIGKILL');
      if (text.includes('finished')) reject(new Error('child finished before it could be killed'));
    });
    child.on('exit', (_code, exitSignal) => {
      clearTimeout(timer);
      if (exitSignal === 'SIGKILL') resolve();
      else reject(new Error(`child exited without being killed (${exitSignal ?? _code})`));
    });
  });
}

const childOutput = process.env[CHILD_OUTPUT_ENV];
if (childOutput !== undefined) {
  await runChild(childOutput);
} else {
  describe('kill -9 during a download', () => {
    it('resumes from the last checkpoint and ends byte-identical', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'ddm-crash-'));
      try {
        const output = join(dir, 'crash.bin');
        await spawnChild(output);
        const data = expectedBytes();
        const { store, resumed, restartReason } = await DownloadStore.open(storeOptions(output), signal);
        assert.equal(restartReason, undefined);
        assert.ok(resumed.length > 0, 'some progress was recorded');
        const part = await readFile(partPath(output));
        for (const range of resumed) {
          assert.ok(part.subarray(range.start, range.end).equals(data.subarray(range.start, range.end)));
        }
        let position = 0;
        for (const range of [...resumed, { start: SIZE, end: SIZE }]) {
          if (range.start > position) await store.write(data.subarray(position, range.start), position);
          position = range.end;
        }
        await store.finalize({}, signal);
        assert.ok((await readFile(output)).equals(data));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}
