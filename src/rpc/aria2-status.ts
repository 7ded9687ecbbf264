/**
 * aria2's status object (aria2.tellStatus) for a ddm download. Every value is a string, as aria2
 * sends it; `bitfield` is hex with the highest bit for the first piece, pieces of aria2's default
 * length since ddm's own ranges have no fixed size.
 */
import { RPC_PIECE_LENGTH_BYTES } from '../constants.js';
import type { DownloadStatus } from '../engine/types.js';
import { ARIA2_REMOVED_CODE, aria2ErrorCode } from './aria2-error-codes.js';
import type { DownloadView } from './download-view.js';

export type Aria2Struct = Record<string, unknown>;

const STOPPED = new Set(['complete', 'error', 'removed']);

export function aria2Status(view: DownloadView, keys?: readonly string[]): Aria2Struct {
  const { status } = view;
  const total = status.totalBytes ?? 0;
  const completed =
    status.state === 'complete' ? Math.max(total, status.completedBytes) : status.completedBytes;
  const numPieces = Math.ceil(total / RPC_PIECE_LENGTH_BYTES);
  const full: Aria2Struct = {
    gid: status.id,
    status: aria2State(status.state),
    totalLength: String(total),
    completedLength: String(completed),
    uploadLength: '0',
    ...(status.totalBytes === null ? {} : { bitfield: bitfield(status, numPieces) }),
    downloadSpeed: String(Math.round(status.speedBps)),
    uploadSpeed: '0',
    pieceLength: String(RPC_PIECE_LENGTH_BYTES),
    numPieces: String(numPieces),
    connections: String(status.connections),
    ...(STOPPED.has(status.state) ? errorKeys(status) : {}),
    dir: view.dir,
    files: aria2Files(view),
  };
  if (!keys || keys.length === 0) return full;
  return Object.fromEntries(keys.filter((key) => Object.hasOwn(full, key)).map((key) => [key, full[key]]));
}

/**
 * aria2 has no word for a download waiting for a new link: it is `paused` there (kept, not
 * running, unpause tries the link again); ddm.getStatus says `expired`.
 */
export function aria2State(state: DownloadStatus['state']): string {
  return state === 'expired' ? 'paused' : state;
}

function errorKeys(status: DownloadStatus): Aria2Struct {
  if (status.state === 'removed') return { errorCode: String(ARIA2_REMOVED_CODE), errorMessage: '' };
  if (status.error) {
    return { errorCode: String(aria2ErrorCode(status.error.code)), errorMessage: status.error.message };
  }
  return { errorCode: '0', errorMessage: '' };
}

/** aria2.getFiles: ddm downloads one file per download. */
export function aria2Files(view: DownloadView): Aria2Struct[] {
  const { status } = view;
  const total = status.totalBytes ?? 0;
  return [
    {
      index: '1',
      path: status.output ?? '',
      length: String(total),
      completedLength: String(status.state === 'complete' ? total : status.completedBytes),
      selected: 'true',
      uris: aria2Uris(status),
    },
  ];
}

/**
 * aria2.getUris: the URL and its mirrors, each `used` while the download runs and it is still
 * fetched from (not dropped), else `waiting`.
 */
export function aria2Uris(status: DownloadStatus): Aria2Struct[] {
  return originUris(status).map(({ uri, sourceId }) => ({
    uri,
    status: status.state === 'active' && !droppedSource(status, sourceId) ? 'used' : 'waiting',
  }));
}

/** aria2.getServers' servers of the one file: each origin fetched from now, with its speed. */
export function aria2Servers(status: DownloadStatus): Aria2Struct[] {
  return originUris(status)
    .filter(({ sourceId }) => !droppedSource(status, sourceId))
    .map(({ uri, sourceId }) => {
      const source = status.sources.find((s) => s.id === sourceId);
      const speed = sourceId === 'local' && source === undefined ? status.speedBps : (source?.rateBps ?? 0);
      return { uri, currentUri: uri, downloadSpeed: String(Math.round(speed)) };
    });
}

/** The primary URL (source `local`) and the mirrors (sources `mirror:1`...). */
function originUris(status: DownloadStatus): { uri: string; sourceId: string }[] {
  return [
    { uri: status.url, sourceId: 'local' },
    ...status.mirrors.map((uri, index) => ({ uri, sourceId: `mirror:${index + 1}` })),
  ];
}

function droppedSource(status: DownloadStatus, sourceId: string): boolean {
  return status.sources.some((s) => s.id === sourceId && s.state === 'dropped');
}

/** Pieces wholly on disk, highest bit of the first byte for piece 0, spare bits zero. */
export function bitfield(status: DownloadStatus, numPieces: number): string {
  const bytes = Buffer.alloc(Math.ceil(numPieces / 8));
  const total = status.totalBytes ?? 0;
  const covered = mergedRanges(status);
  let cursor = 0;
  for (let piece = 0; piece < numPieces; piece += 1) {
    const start = piece * RPC_PIECE_LENGTH_BYTES;
    const end = Math.min(total, start + RPC_PIECE_LENGTH_BYTES);
    while (cursor < covered.length && covered[cursor]!.end <= start) cursor += 1;
    const range = covered[cursor];
    const done =
      status.state === 'complete' || (range !== undefined && range.start <= start && range.end >= end);
    if (done) bytes[piece >> 3]! |= 0x80 >> (piece & 7);
  }
  return bytes.toString('hex');
}

function mergedRanges(status: DownloadStatus): { start: number; end: number }[] {
  const merged: { start: number; end: number }[] = [];
  for (const piece of status.pieces) {
    const last = merged.at(-1);
    if (last && piece.start <= last.end) last.end = Math.max(last.end, piece.end);
    else merged.push({ start: piece.start, end: piece.end });
  }
  return merged;
}
