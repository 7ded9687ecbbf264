/**
 * One download as the RPC sees it, wherever it is: in the engine (waiting to complete), removed
 * through the RPC (kept for aria2.tellStopped), or over in an earlier life of the daemon.
 */
import { dirname } from 'node:path';
import type { DownloadStatus } from '../engine/types.js';

export interface DownloadView {
  status: DownloadStatus;
  /** The request as the session keeps it (engine keys). */
  request: Record<string, unknown>;
  /** The folder the file goes to. */
  dir: string;
}

export function dirOf(status: DownloadStatus, request: Record<string, unknown>, fallback: string): string {
  if (status.output !== undefined) return dirname(status.output);
  if (typeof request.output === 'string') return dirname(request.output);
  return typeof request.dir === 'string' ? request.dir : fallback;
}

/** A download over before this daemon started: what the session file kept of it. */
export function finishedStatus(saved: {
  id: string;
  state: 'complete' | 'error';
  request: Record<string, unknown>;
  output?: string;
  error?: { code: string; message: string };
}): DownloadStatus {
  return {
    id: saved.id,
    state: saved.state,
    url: typeof saved.request.url === 'string' ? saved.request.url : '',
    mirrors: Array.isArray(saved.request.mirrors)
      ? saved.request.mirrors.filter((mirror): mirror is string => typeof mirror === 'string')
      : [],
    output: saved.output,
    totalBytes: null,
    completedBytes: 0,
    speedBps: 0,
    connections: 0,
    options: {
      connections: typeof saved.request.connections === 'number' ? saved.request.connections : 1,
      maxSpeed: typeof saved.request.maxSpeed === 'number' ? saved.request.maxSpeed : 0,
      helpers: saved.request.helpers !== false,
    },
    sources: [],
    pieces: [],
    ...(saved.error ? { error: saved.error as DownloadStatus['error'] & object } : {}),
  };
}
