/**
 * The daemon's queue on disk: every download (waiting, active, paused, finished with its result)
 * and the engine's limits, in one JSON file replaced atomically (temp, fsync, rename, directory
 * fsync) after every change. Progress itself is in each download's control file; the session
 * says which downloads there are, so a restart after kill -9 resumes every one of them.
 */
import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { DdmError } from '../errors.js';
import { replaceFileAtomically } from '../storage/durable-write.js';
import { wholeNumber } from '../util/schema-parts.js';
import type { Engine, EngineLimits } from './engine.js';
import type { DownloadState } from './types.js';

export const SESSION_FORMAT_VERSION = 1;

const savedDownload = v.object({
  id: v.string(),
  state: v.picklist(['waiting', 'active', 'paused', 'expired', 'complete', 'error']),
  request: v.record(v.string(), v.unknown()),
  output: v.optional(v.string()),
  /** The link (request.url) had served the download: a 401/403/410 from it means it expired. */
  linkWorked: v.optional(v.boolean()),
  error: v.optional(v.object({ code: v.string(), message: v.string() })),
});

const sessionSchema = v.object({
  format: v.literal('ddm-session'),
  version: v.literal(SESSION_FORMAT_VERSION),
  limits: v.object({
    maxActive: wholeNumber(1),
    maxConnections: wholeNumber(1),
    maxSpeed: wholeNumber(0),
  }),
  downloads: v.array(savedDownload),
  /** The daemon's settings (src/daemon/settings.ts checks them); absent in older sessions. */
  settings: v.optional(v.record(v.string(), v.unknown())),
});

export type SavedDownload = v.InferOutput<typeof savedDownload>;
export type Session = v.InferOutput<typeof sessionSchema>;

/** A download the session holds that is over: shown in lists, never run again. */
export interface FinishedDownload {
  id: string;
  state: Extract<DownloadState, 'complete' | 'error'>;
  request: Record<string, unknown>;
  output?: string;
  error?: { code: string; message: string };
}

export async function loadSession(path: string): Promise<Session | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DdmError('FS_ERROR', `cannot read the session file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DdmError(
      'CONTROL_CORRUPT',
      `the session file ${path} is not JSON; move it away to start afresh`,
    );
  }
  const parsed = v.safeParse(sessionSchema, json);
  if (!parsed.success) {
    throw new DdmError(
      'CONTROL_CORRUPT',
      `the session file ${path} is not a ddm session; move it away to start afresh`,
    );
  }
  return parsed.output;
}

/** What the engine holds now, plus downloads already over in an earlier life of the daemon. */
export function snapshotSession(
  engine: Engine,
  finished: readonly FinishedDownload[],
  settings?: Record<string, unknown>,
): Session {
  const live: SavedDownload[] = engine.list().flatMap((handle) => {
    const status = handle.status();
    if (status.state === 'removed') return [];
    return [
      {
        id: handle.id,
        state: status.state,
        request: handle.sessionRequest(),
        ...(status.output === undefined ? {} : { output: status.output }),
        ...(status.error ? { error: status.error } : {}),
        ...(handle.linkWorked ? { linkWorked: true } : {}),
      },
    ];
  });
  const limits: EngineLimits = engine.limits();
  return {
    format: 'ddm-session',
    version: SESSION_FORMAT_VERSION,
    limits,
    downloads: [...finished, ...live],
    ...(settings ? { settings } : {}),
  };
}

/**
 * Writes the session after changes, one write at a time; changes during a write are saved by
 * the next one, so the file always ends up with the latest state.
 */
export class SessionWriter {
  #writing: Promise<void> | undefined;
  #dirty = false;
  #lastError: unknown;

  constructor(
    private readonly path: string,
    private readonly snapshot: () => Session,
  ) {}

  get lastError(): unknown {
    return this.#lastError;
  }

  changed(): void {
    this.#dirty = true;
    this.#writing ??= this.#drain();
  }

  /** Resolves once everything changed so far is on disk. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#dirty) {
        this.#dirty = false;
        const text = `${JSON.stringify(this.snapshot(), null, 2)}\n`;
        try {
          await replaceFileAtomically(this.path, text, new AbortController().signal);
          this.#lastError = undefined;
        } catch (error) {
          // Kept for the daemon to report; the next change tries again.
          this.#lastError = error;
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }
}
