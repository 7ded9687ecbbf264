/**
 * Digests of what the `.part` holds in its done ranges, kept in the control file so a resume can
 * tell a damaged `.part` (zeroed, truncated and re-extended, replaced by other bytes) from a good
 * one. Each digest covers the part of one aligned piece that is done, so every done byte is
 * covered and damage costs at most one piece to fetch again.
 *
 * Digests are computed at checkpoints by reading the synced bytes back (off the byte path), and
 * a piece whose done part has not changed since the last checkpoint is not hashed again; a span
 * that grew at its end is extended from the hash state kept since the last checkpoint, so each
 * byte is hashed once however slowly its piece fills. They
 * detect damage on disk, not lies: a peer's bytes are hashed as it sent them.
 */
import { createHash, type Hash } from 'node:crypto';
import { PIECE_DIGEST_ALGORITHM, PIECE_DIGEST_BYTES, PIECE_DIGEST_HEX_CHARS } from '../constants.js';
import type { ByteRange } from '../types/byte-range.js';
import type { PieceDigest, PieceDigestRecord } from './control-file.js';
import { throwIfAborted } from './fs-errors.js';

export type ReadBytes = (position: number, length: number) => Promise<Uint8Array>;

export function digestOf(bytes: Uint8Array): string {
  return finish(createHash(PIECE_DIGEST_ALGORITHM).update(bytes));
}

/** The digest so far, leaving `hash` open for more bytes. */
function finish(hash: Hash): string {
  return hash.copy().digest('hex').slice(0, PIECE_DIGEST_HEX_CHARS);
}

/** A digest, and (in memory only) the hash state to extend it if its span grows at the end. */
interface Held extends PieceDigest {
  live?: Hash;
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
  private readonly byPiece = new Map<number, Held[]>();
  /**
   * The span being hashed now, and whether a write into it came meanwhile (making the hash stale).
   * Only writes into the span count: the rest of its piece is still being filled by design.
   */
  private hashing: { span: ByteRange; stale: boolean } | undefined;

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
    const hashing = this.hashing;
    if (hashing !== undefined && hashing.span.start < end && start < hashing.span.end) hashing.stale = true;
    for (let piece = first; piece <= last; piece++) {
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
    // A digest survives when its span is still done from the same start (it may have grown).
    for (const piece of [...this.byPiece.keys()]) {
      const keep = (this.byPiece.get(piece) ?? []).filter((digest) =>
        (wanted.get(piece) ?? []).some((span) => span.start === digest.start && span.end >= digest.end),
      );
      if (keep.length === 0) this.byPiece.delete(piece);
      else this.byPiece.set(piece, keep);
    }
    for (const span of spans) {
      const piece = this.pieceOf(span.start);
      const known = this.byPiece.get(piece)?.find((d) => d.start === span.start);
      if (known?.end === span.end) continue;
      throwIfAborted(signal);
      const hashing = { span, stale: false };
      this.hashing = hashing;
      try {
        const held = await this.hashSpan(span, known, read);
        if (!hashing.stale) this.put(held);
        else this.invalidate(span.start, span.end);
      } finally {
        this.hashing = undefined;
      }
    }
  }

  /** Hashes `span`, extending `known` (same start, shorter) when its hash state is at hand. */
  private async hashSpan(span: ByteRange, known: Held | undefined, read: ReadBytes): Promise<Held> {
    const extend = known?.live !== undefined;
    const from = extend ? known!.end : span.start;
    const hash = extend ? known!.live! : createHash(PIECE_DIGEST_ALGORITHM);
    hash.update(await read(from, span.end - from));
    const held: Held = { start: span.start, end: span.end, hex: finish(hash) };
    // A span that reached its piece's end grows no more: its hash state is not worth keeping.
    if (span.end % this.pieceBytes !== 0) held.live = hash;
    return held;
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
    const digests = this.all().map(({ start, end, hex }) => ({ start, end, hex }));
    return { bytes: this.pieceBytes, algorithm: PIECE_DIGEST_ALGORITHM, digests };
  }

  private all(): Held[] {
    return [...this.byPiece.values()].flat().sort((a, b) => a.start - b.start);
  }

  private put(digest: Held): void {
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
