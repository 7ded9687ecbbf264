import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { DdmError } from '../errors.js';
import { throwIfAborted, toStorageError } from './fs-errors.js';
import { openOwnFile } from './own-file.js';

/**
 * Read-write, created when missing, never truncated on open: a resumed download keeps its bytes.
 * Never through a symbolic link: a planted `.part -> victim` must not let ddm write the victim.
 */
const OPEN_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW;
/** The null device is opened as it is: no creation, no length, no link checks. */
const SINK_FLAGS = fsConstants.O_RDWR;
const CREATE_MODE = 0o666;

/**
 * The `.part` file: bytes land at their offset as they arrive, in any order.
 * Writes from different workers never overlap, so positional writes need no lock.
 */
export class PartFile {
  private closed = false;
  /** The write under way (writes are queued: see `writeChunks`). */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /**
   * Opens or creates `path` without touching existing content. With a known size the file gets
   * exactly that length up front, so a full disk tends to show early and offsets never extend it.
   */
  static async open(path: string, size: number | null, signal: AbortSignal): Promise<PartFile> {
    throwIfAborted(signal);
    const handle = await openOwnFile(path, OPEN_FLAGS, CREATE_MODE, signal);
    const file = new PartFile(path, handle);
    try {
      if (size !== null) await file.setLength(size);
      throwIfAborted(signal);
    } catch (error) {
      await file.close().catch(() => {});
      throw toStorageError(error, path, signal);
    }
    return file;
  }

  /** Opens the null device (`-o /dev/null`): writes are accepted and dropped. */
  static async openSink(path: string, signal: AbortSignal): Promise<PartFile> {
    throwIfAborted(signal);
    try {
      return new PartFile(path, await open(path, SINK_FLAGS));
    } catch (error) {
      throw toStorageError(error, path, signal);
    }
  }

  /** Writes every byte of `data` at `position`; the OS may accept only part of a write. */
  async write(data: Uint8Array, position: number): Promise<void> {
    let offset = 0;
    while (offset < data.byteLength) {
      let bytesWritten: number;
      try {
        ({ bytesWritten } = await this.handle.write(
          data,
          offset,
          data.byteLength - offset,
          position + offset,
        ));
      } catch (error) {
        throw toStorageError(error, this.path);
      }
      if (bytesWritten <= 0) {
        // A write that makes no progress would spin forever.
        throw new DdmError('FS_ERROR', `${this.path}: write made no progress at offset ${position + offset}`);
      }
      offset += bytesWritten;
    }
  }

  /**
   * Writes consecutive chunks at `position` with one vectored write, without copying them into
   * one buffer first (fewer allocations on the hot path). A short write finishes chunk by chunk.
   */
  writeChunks(chunks: readonly Uint8Array[], position: number): Promise<void> {
    // One write at a time per file: concurrent writes to one inode only spin on its lock.
    const turn = this.writing.then(() => this.writeNow(chunks, position));
    this.writing = turn.catch(() => {});
    return turn;
  }

  private async writeNow(chunks: readonly Uint8Array[], position: number): Promise<void> {
    if (chunks.length === 1) return this.write(chunks[0]!, position);
    let bytesWritten: number;
    try {
      ({ bytesWritten } = await this.handle.writev(chunks as Uint8Array[], position));
    } catch (error) {
      throw toStorageError(error, this.path);
    }
    let offset = position;
    for (const chunk of chunks) {
      const done = Math.min(chunk.byteLength, Math.max(0, bytesWritten - (offset - position)));
      if (done < chunk.byteLength) await this.write(chunk.subarray(done), offset + done);
      offset += chunk.byteLength;
    }
  }

  /** Reads up to `length` bytes at `position`, into `into` when given (at most its length). */
  async read(position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    if (into !== undefined) length = Math.min(length, into.byteLength);
    const buffer = into ?? new Uint8Array(length);
    let offset = 0;
    while (offset < length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.handle.read(buffer, offset, length - offset, position + offset));
      } catch (error) {
        throw toStorageError(error, this.path);
      }
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    return buffer.subarray(0, offset);
  }

  /** Gives the file exactly `size` bytes; content past the end is cut, a gap reads as zeros. */
  async setLength(size: number): Promise<void> {
    try {
      await this.handle.truncate(size);
    } catch (error) {
      throw toStorageError(error, this.path);
    }
  }

  /** Discards all content, then preallocates again: what is left reads as zeros. */
  async reset(size: number | null): Promise<void> {
    await this.setLength(0);
    if (size !== null) await this.setLength(size);
  }

  async length(): Promise<number> {
    try {
      return (await this.handle.stat()).size;
    } catch (error) {
      throw toStorageError(error, this.path);
    }
  }

  /** Data must be on disk before the control file may call it done. */
  async datasync(): Promise<void> {
    try {
      await this.handle.datasync();
    } catch (error) {
      throw toStorageError(error, this.path);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.handle.close();
    } catch (error) {
      throw toStorageError(error, this.path);
    }
  }
}
