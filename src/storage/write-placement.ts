/**
 * Where a `.part` file's writes run: on the main thread while they are quick, else on libuv's
 * thread pool. A positional write into the page cache takes tens of microseconds, and through
 * the thread pool each one cost two thread hand-offs (~5 futex calls per 256 KiB) and, on the
 * bench VM, runs with seconds of extra system time (BENCHMARKS.md, "Eleventh session"). But a
 * write on the main thread holds the event loop for as long as the kernel holds the write, so:
 *
 * - only files on local file systems start on the main thread: on NFS, SMB or FUSE a write can
 *   wait on a server;
 * - one write slower than MAIN_THREAD_WRITE_MAX_MS (a throttled or slow disk) moves the file's
 *   later writes to the thread pool for good, so a slow disk holds the loop at most once.
 */
import { statfs } from 'node:fs/promises';
import { MAIN_THREAD_WRITE_MAX_MS } from '../constants.js';

/**
 * `statfs(2)` magic numbers of Linux's local disk and memory file systems (linux/magic.h).
 * Anything else, and every other platform, writes through the thread pool.
 */
const LOCAL_FILE_SYSTEMS: ReadonlySet<number> = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0xf2f52010, // f2fs
  0x2fc12fc1, // zfs
  0xca451a4e, // bcachefs
  0x3153464a, // jfs
  0x52654973, // reiserfs
  0x01021994, // tmpfs, devtmpfs (-o /dev/null)
  0x794c7630, // overlayfs (containers)
  0x4d44, // vfat
  0x2011bab0, // exfat
  0x5346544e, // ntfs
  0x7366746e, // ntfs3
]);

export function isLocalFileSystem(type: number): boolean {
  return LOCAL_FILE_SYSTEMS.has(type);
}

export class WritePlacement {
  private constructor(private onMainThread: boolean) {}

  /** The placement for a file at `path`: the main thread on a local file system on Linux. */
  static async forFile(path: string): Promise<WritePlacement> {
    if (process.platform !== 'linux') return WritePlacement.onThreadPool();
    try {
      return new WritePlacement(isLocalFileSystem(Number((await statfs(path)).type)));
    } catch {
      return WritePlacement.onThreadPool();
    }
  }

  static onThreadPool(): WritePlacement {
    return new WritePlacement(false);
  }

  static onMainThread(): WritePlacement {
    return new WritePlacement(true);
  }

  get mainThread(): boolean {
    return this.onMainThread;
  }

  /** A main-thread write took `elapsedMs`: past the limit, the file's writes leave the main thread. */
  wrote(elapsedMs: number): void {
    if (elapsedMs > MAIN_THREAD_WRITE_MAX_MS) this.onMainThread = false;
  }
}
