/** What an engine tells about its downloads: states, status snapshots and events. */
import type { DownloadEvent } from '../client/events.js';
import type { ErrorCode } from '../errors.js';
import type { Piece } from './piece-map.js';

/**
 * `expired`: the link answered 401/403/410 after it had served the download; every byte is kept
 * and the download waits for a new link (changeLink, `refreshCmd`), then goes on from there.
 */
export type DownloadState = 'waiting' | 'active' | 'paused' | 'expired' | 'complete' | 'error' | 'removed';

export interface SourceStatus {
  /** `local` (the primary URL), `mirror:<n>` (the n-th mirror) or `peer:<id>`. */
  id: string;
  label: string;
  kind: 'local' | 'peer';
  /**
   * A peer: 'asking' while its consent is asked, 'accepted' once given and before it delivers,
   * 'refused' when it said no. Any source: 'active' fetching, 'idle' not now, 'dropped' gone.
   */
  state: 'asking' | 'accepted' | 'active' | 'idle' | 'refused' | 'dropped';
  /** Why it was refused or dropped. */
  reason?: string;
  /** Bytes per second, smoothed. */
  rateBps: number;
  /** Bytes delivered in the current run. */
  bytes: number;
  failures: number;
  lastError?: string;
}

/** What can be changed while a download runs, without a restart. */
export interface LiveOptions {
  connections: number;
  /** Bytes per second; 0 = no limit. */
  maxSpeed: number;
  /** Whether peers may deliver. */
  helpers: boolean;
}

export interface DownloadStatus {
  /** 16 hex digits. */
  id: string;
  state: DownloadState;
  url: string;
  /** More URLs of the same file, in the order given (sources `mirror:1`, `mirror:2`... while it runs). */
  mirrors: string[];
  /** Known once the origin answered (the name may come from it). */
  output: string | undefined;
  totalBytes: number | null;
  completedBytes: number;
  speedBps: number;
  /** Ranges being fetched right now, over every source. */
  connections: number;
  options: LiveOptions;
  sources: SourceStatus[];
  /** Bytes on disk, and who delivered each range. */
  pieces: Piece[];
  error?: { code: ErrorCode; message: string };
}

export type HandleEvent = DownloadEvent | { type: 'state'; state: DownloadState; previous: DownloadState };

/** An event of one download, as the engine's listeners see it. */
export interface EngineEvent {
  id: string;
  event: HandleEvent;
}

/** A peer an engine knows of (its peer directories), for `engine.swarm()`. */
export interface KnownPeer {
  id: string;
  name: string;
  url: string;
  foundBy: Array<'tracker' | 'lan' | 'static'>;
  slots: number | null;
  freeSlots: number | null;
  version: string | null;
  /** Ms since epoch. */
  lastSeen: number;
  trust: 'trusted' | 'refused' | 'unknown';
  lastError?: string;
}
