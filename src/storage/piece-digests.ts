/**
 * Digests of what the `.part` holds in its done ranges, kept in the control file so a resume can
 * tell a damaged `.part` (zeroed, truncated and re-extended, replaced by other bytes) from a good
 * one. Each digest covers the part of one aligned piece that is done, so every done byte is
 * covered and damage costs at most one piece to fetch again.
 *
 * Digests are computed at checkpoints by reading the synced bytes back (off the byte path), and
 * a piece whose done part has not changed since the last checkpoint is not hashed again. They
 * detect damage on disk, not lies: a peer's bytes are hashed as it sent them.
 */
import { createHash } from 'node:crypto';
import { PIECE_DIGEST_ALGORITHM, PIECE_DIGEST_BYTES, PIECE_DIGEST_HEX_CHARS } from '../constants.js';
import type { ByteRange } from '../scheduler/types.js';
import type { PieceDigest, PieceDigestRecord } from './control-file.js';
import { throwIfAborted } from './fs-errors.js';

export type ReadBytes = (position: number, length: number) => Promise<Uint8Array>;

export function digestOf(bytes: Uint8Array): string {
  return createHash(PIECE_DIGEST_ALGORITHM).update(bytes).digest('hex').slice(0, PIECE_DIGEST_HEX_CHARS);
}

/** Splits ranges at piece boundaries: the spans one digest each covers. */
export function pieceSpans(ranges: readonly ByteRange[], pieceBytes: number): ByteRange[] {
  const spans: ByteRange[] = [];
  for (const range of ranges) {
    let start = range.start;
    while (start < range.end) {
      const end = Math.min(range.end, (Math.floor(start / pieceBytes) + 1) * pieceBytes);
      spans.push({ start, end });
      start = end;
    }
  }
  return spans;
}

export class PieceDigests {
  /** By piece index; usually one digest per piece, more when a piece's done bytes are not contiguous. */
  private readonly byPiece = new Map<number, PieceDigest[]>();
  /** Pieces being hashed now, and whether a write touched them meanwhile (making the hash stale). */
  private readonly hashing = new Map<number, boolean>();

  constructor(
    readonly pieceBytes: number = PIECE_DIGEST_BYTES,
    initial: readonly PieceDigest[] = [],
  ) {
    for (const digest of initial) this.put({ ...digest });
  }

  /** Reuses the record's digests when they were made the way this build makes them. */
  static from(record: PieceDigestRecord | undefined): PieceDigests {
    if (record === undefined || record.algorithm !== PIECE_DIGEST_ALGORITHM) return new PieceDigests();
    return new PieceDigests(record.bytes, record.digests);
  }

  /** Bytes in [start, end) are being rewritten: digests that cover any of them no longer hold. */
  invalidate(start: number, end: number): void {
    if (end <= start) return;
    const first = this.pieceOf(start);
    const last = this.pieceOf(end - 1);
    for (let piece = first; piece <= last; piece++) {
      if (this.hashing.has(piece)) this.hashing.set(piece, true);
      const digests = this.byPiece.get(piece);
      if (digests === undefined) continue;
      const kept = digests.filter((digest) => digest.end <= start || end <= digest.start);
      if (kept.length === 0) this.byPiece.delete(piece);
      else this.byPiece.set(piece, kept);
    }
  }

  /** Brings the digests in line with `done`: spans unchanged since their digest keep it. */
  async update(done: readonly ByteRange[], read: ReadBytes, signal: AbortSignal): Promise<void> {
    const spans = pieceSpans(done, this.pieceBytes);
    const wanted = new Map<number, ByteRange[]>();
    for (const span of spans) {
      const piece = this.pieceOf(span.start);
      wanted.set(piece, [...(wanted.get(piece) ?? []), span]);
    }
    for (const piece of [...this.byPiece.keys()]) {
      const keep = (this.byPiece.get(piece) ?? []).filter((digest) =>
        (wanted.get(piece) ?? []).some((span) => span.start === digest.start && span.end === digest.end),
      );
      if (keep.length === 0) this.byPiece.delete(piece);
      else this.byPiece.set(piece, keep);
    }
    for (const span of spans) {
      const piece = this.pieceOf(span.start);
      if (this.byPiece.get(piece)?.some((d) => d.start === span.start && d.end === span.end)) continue;
      throwIfAborted(signal);
      this.hashing.set(piece, false);
      try {
        const hex = digestOf(await read(span.start, span.end - span.start));
        if (this.hashing.get(piece) === false) this.put({ ...span, hex });
      } finally {
        this.hashing.delete(piece);
      }
    }
  }

  /** The spans whose bytes no longer match their digest; their digests are dropped. */
  async findDamaged(read: ReadBytes, signal: AbortSignal): Promise<ByteRange[]> {
    const damaged: ByteRange[] = [];
    for (const digest of this.all()) {
      throwIfAborted(signal);
      const length = digest.end - digest.start;
      const bytes = await read(digest.start, length);
      if (bytes.byteLength === length && digestOf(bytes) === digest.hex) continue;
      damaged.push({ start: digest.start, end: digest.end });
      this.invalidate(digest.start, digest.end);
    }
    return damaged;
  }

  record(): PieceDigestRecord {
    return { bytes: this.pieceBytes, algorithm: PIECE_DIGEST_ALGORITHM, digests: this.all() };
  }

  private all(): PieceDigest[] {
    return [...this.byPiece.values()].flat().sort((a, b) => a.start - b.start);
  }

  private put(digest: PieceDigest): void {
    const piece = this.pieceOf(digest.start);
    const others = (this.byPiece.get(piece) ?? []).filter(
      (d) => d.end <= digest.start || digest.end <= d.start,
    );
    this.byPiece.set(piece, [...others, digest]);
  }

  private pieceOf(offset: number): number {
    return Math.floor(offset / this.pieceBytes);
  }
}
