/**
 * Events the engine emits while it works. The CLI renders them as a progress bar or as
 * newline-delimited JSON; a daemon or UI can consume the same stream.
 */
import type { ErrorCode } from '../errors.js';

export interface WorkerStats {
  /** `local` or `peer:<id>`. */
  source: string;
  label: string;
  kind: 'local' | 'peer';
  /** Bytes this source delivered in this run. */
  bytes: number;
  /** Smoothed rate in bytes per second. */
  rateBps: number;
  /** Ranges this source is fetching right now. */
  active: number;
  failures: number;
  dropped: boolean;
  /** Why this source last failed, if it did. */
  lastError?: string;
}

export type DownloadEvent =
  | {
      type: 'start';
      url: string;
      finalUrl: string;
      output: string;
      size: number | null;
      mode: 'segmented' | 'single';
      resumedBytes: number;
      restartReason?: string;
      connections: number;
    }
  | {
      type: 'progress';
      doneBytes: number;
      size: number | null;
      rateBps: number;
      etaSec: number | null;
      active: number;
      sources: WorkerStats[];
    }
  | { type: 'notice'; message: string }
  | { type: 'retry'; source: string; tryNumber: number; delayMs: number; code: ErrorCode; message: string }
  | {
      type: 'peer';
      source: string;
      label: string;
      /** Where the peer was reached, when it is known (a peer that failed to prove itself). */
      url?: string;
      /** 'asking': the offer is on its way (the peer's operator may be asked). */
      status: 'asking' | 'accepted' | 'refused' | 'failed' | 'dropped';
      message?: string;
    }
  | {
      type: 'done';
      output: string;
      size: number;
      elapsedMs: number;
      rateBps: number;
      fetchedBytes: number;
      sources: WorkerStats[];
    }
  | { type: 'error'; code: ErrorCode; message: string };

export type DownloadEventListener = (event: DownloadEvent) => void;
