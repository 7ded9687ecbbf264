/**
 * Digests of what the `.part` holds in its done ranges, kept in the control file so a resume can
 * tell a damaged `.part` (zeroed, truncated and re-extended, replaced by other bytes) from a good
 * one. Each digest covers the part of one aligned piece that is done, so every done byte is
 * covered and damage costs at most one piece to fetch again.
 *
 * Bytes are hashed once, as their write completes (`wrote`): reading 1 GiB back at checkpoints
 * cost a second pass over every byte, a 4 MiB buffer per piece and the page-cache copy, about
 * twice the hash itself. A checkpoint takes a `snapshot` of those running hashes when it is asked
 * for, so the digests it records cover only bytes written before its `fdatasync`. Where no running
 * hash fits a done span (a piece filled by two workers, a resumed piece), the synced bytes are read
 * back as before; a span that grew at its end is extended from the hash state kept since the last
 * checkpoint, and a piece whose done part has not changed is not hashed again. They detect damage
 * on disk, not lies: a peer's bytes are hashed as it sent them. So the hash is XXH64 (`xxh64.ts`),
 * a quarter of SHA-256's CPU; control files of format 2 carry SHA-256 digests, which a resume still
 * checks (`findDamaged`) and replaces with XXH64 ones from the same bytes.
 */
import { createHash } from 'node:crypto';
import {
  LEGACY_PIECE_DIGEST_ALGORITHM,
  LEGACY_PIECE_DIGEST_HEX_CHARS,
  PIECE_DIGEST_ALGORITHM,
  PIECE_DIGEST_BYTES,
  PIECE_READ_BACK_STEP_BYTES,
} from '../constants.js';
import type { ByteRange } from '../types/byte-range.js';
import type { PieceDigest, PieceDigestRecord } from './control-file.js';
import { throwIfAborted } from './fs-errors.js';
import { type Xxh64State, xxh64Hex, xxh64Start, xxh64Update } from './xxh64.js';

export { loadXxh64 as loadPieceDigests } from './xxh64.js';

/** Reads back `length` bytes at `position`, into `into` when given (then at most its length). */
export type ReadBytes = (position: number, length: number, into?: Uint8Array) => Promise<Uint8Array>;

/** A digest as a format-2 control file recorded it: the first 128 bits of SHA-256. */
function legacyDigestOf(bytes: Uint8Array): string {
  return createHash(LEGACY_PIECE_DIGEST_ALGORITHM)
    .update(bytes)
    .digest('hex')
    .slice(0, LEGACY_PIECE_DIGEST_HEX_CHARS);
}

/** A digest, and (in memory only) the hash state to extend it if its span grows at the end. */
interface Held extends PieceDigest {
  live?: Xxh64State;
}

/** A running hash of the bytes written at [start, end), all inside one piece. */
interface Feed {
  start: number;
  end: number;
  state: Xxh64State;
}

/** The running hashes as they were when a checkpoint was asked for; see `PieceDigests.snapshot`. */
export interface DigestSnapshot {
  readonly feeds: Feed[];
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
  /** By piece index: hashes of written bytes, grown by each write that lands at their end. */
  private readonly feeds = new Map<number, Feed[]>();
  /** Snapshots taken and not yet used: a rewrite must reach them too. */
  private readonly snapshots = new Set<DigestSnapshot>();
  /** The digests held are a format-2 file's SHA-256 ones, until `findDamaged` has checked them. */
  private legacy: boolean;

  constructor(
    readonly pieceBytes: number = PIECE_DIGEST_BYTES,
    initial: readonly PieceDigest[] = [],
    algorithm: string = PIECE_DIGEST_ALGORITHM,
  ) {
    this.legacy = algorithm === LEGACY_PIECE_DIGEST_ALGORITHM;
    for (const digest of initial) this.put({ ...digest });
  }

  /** Reuses the record's digests when this build can check them (XXH64, or SHA-256 of format 2). */
  static from(record: PieceDigestRecord | undefined): PieceDigests {
    const known = [PIECE_DIGEST_ALGORITHM, LEGACY_PIECE_DIGEST_ALGORITHM];
    if (record === undefined || !known.includes(record.algorithm)) return new PieceDigests();
    return new PieceDigests(record.bytes, record.digests, record.algorithm);
  }

  /** Bytes in [start, end) are being rewritten: digests that cover any of them no longer hold. */
  invalidate(start: number, end: number): void {
    if (end <= start) return;
    const first = this.pieceOf(start);
    const last = this.pieceOf(end - 1);
    const hashing = this.hashing;
    if (hashing !== undefined && hashing.span.start < end && start < hashing.span.end) hashing.stale = true;
    const apart = (range: ByteRange) => range.end <= start || end <= range.start;
    for (const snapshot of this.snapshots) {
      const kept = snapshot.feeds.filter(apart);
      snapshot.feeds.splice(0, snapshot.feeds.length, ...kept);
    }
    for (let piece = first; piece <= last; piece++) {
      const feeds = this.feeds.get(piece);
      if (feeds !== undefined) {
        const kept = feeds.filter(apart);
        if (kept.length === 0) this.feeds.delete(piece);
        else this.feeds.set(piece, kept);
      }
      const digests = this.byPiece.get(piece);
      if (digests === undefined) continue;
      const kept = digests.filter((digest) => digest.end <= start || end <= digest.start);
      if (kept.length === 0) this.byPiece.delete(piece);
      else this.byPiece.set(piece, kept);
    }
  }

  /**
   * `chunks` were written at `position` (the write completed): their bytes extend the running
   * hash that ends there, or start one. Call `invalidate` for the range before writing it.
   */
  wrote(chunks: readonly Uint8Array[], position: number): void {
    let offset = position;
    // The parts of one feed go to the hasher in one call: loading and saving its state is per call.
    let feed: Feed | undefined;
    let parts: Uint8Array[] = [];
    const flush = () => {
      if (feed !== undefined && parts.length > 0) feed.state = xxh64Update(feed.state, parts);
      parts = [];
    };
    for (const chunk of chunks) {
      let from = 0;
      while (from < chunk.byteLength) {
        const at = offset + from;
        const piece = this.pieceOf(at);
        const upTo = Math.min(chunk.byteLength, (piece + 1) * this.pieceBytes - offset);
        if (feed === undefined || feed.end !== at || this.pieceOf(feed.start) !== piece) {
          flush();
          feed = this.feedAt(piece, at);
        }
        parts.push(from === 0 && upTo === chunk.byteLength ? chunk : chunk.subarray(from, upTo));
        feed.end = offset + upTo;
        from = upTo;
      }
      offset += chunk.byteLength;
    }
    flush();
  }

  /** The running hash of `piece` that ends at `at`, or a new one starting there. */
  private feedAt(piece: number, at: number): Feed {
    const feeds = this.feeds.get(piece) ?? [];
    const running = feeds.find((feed) => feed.end === at);
    if (running !== undefined) return running;
    // A digest kept since the last checkpoint may end right here: go on from its hash state.
    const held = this.byPiece.get(piece)?.find((digest) => digest.end === at && digest.live !== undefined);
    const feed: Feed = held
      ? { start: held.start, end: at, state: held.live! }
      : { start: at, end: at, state: xxh64Start() };
    feeds.push(feed);
    this.feeds.set(piece, feeds);
    return feed;
  }

  /**
   * Copies of the running hashes as they are now: take it when the done ranges of a checkpoint
   * are taken, hand it to `update` after the sync. Bytes written later are not in it.
   */
  snapshot(): DigestSnapshot {
    const feeds: Feed[] = [];
    for (const pieceFeeds of this.feeds.values()) {
      for (const feed of pieceFeeds) {
        // States are never mutated (an update makes a new one), so the snapshot shares them.
        if (feed.end > feed.start) feeds.push({ start: feed.start, end: feed.end, state: feed.state });
      }
    }
    const snapshot = { feeds };
    this.snapshots.add(snapshot);
    return snapshot;
  }

  /** A snapshot that will not be used (`update` releases the one it is given). */
  release(snapshot: DigestSnapshot): void {
    this.snapshots.delete(snapshot);
  }

  /**
   * Brings the digests in line with `done`: spans unchanged since their digest keep it; spans a
   * snapshot's running hash covers exactly are not read back.
   */
  async update(
    done: readonly ByteRange[],
    read: ReadBytes,
    signal: AbortSignal,
    snapshot?: DigestSnapshot,
  ): Promise<void> {
    try {
      await this.updateFrom(done, read, signal, snapshot?.feeds ?? []);
    } finally {
      if (snapshot !== undefined) this.release(snapshot);
      this.dropFinishedFeeds();
    }
  }

  private async updateFrom(
    done: readonly ByteRange[],
    read: ReadBytes,
    signal: AbortSignal,
    feeds: readonly Feed[],
  ): Promise<void> {
    // SHA-256 digests not checked by `findDamaged` cannot be extended: the spans are hashed anew.
    if (this.legacy) {
      this.byPiece.clear();
      this.legacy = false;
    }
    const spans = pieceSpans(done, this.pieceBytes);
    let scratch: Uint8Array | undefined;
    const stepped = (span: ByteRange, from: Feed | undefined) => {
      scratch ??= new Uint8Array(Math.min(PIECE_READ_BACK_STEP_BYTES, this.pieceBytes));
      return this.hashSpan(span, from, read, scratch);
    };
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
        const held = await stepped(span, this.bestStart(span, known, feeds));
        if (!hashing.stale) this.put(held);
        else this.invalidate(span.start, span.end);
      } finally {
        this.hashing = undefined;
      }
    }
  }

  /** The longest hash state at hand that covers a prefix of `span`: a snapshot's or the kept digest's. */
  private bestStart(span: ByteRange, known: Held | undefined, feeds: readonly Feed[]): Feed | undefined {
    let best: Feed | undefined =
      known?.live !== undefined && known.end <= span.end
        ? { start: known.start, end: known.end, state: known.live }
        : undefined;
    for (const feed of feeds) {
      if (feed.start !== span.start || feed.end > span.end) continue;
      if (best === undefined || feed.end > best.end) best = feed;
    }
    return best;
  }

  /**
   * Hashes `span`, extending `from` (same start, not longer) and reading the rest back through
   * `scratch`, a step at a time: a piece read back whole was a fresh 4 MiB buffer each, ~30 MiB
   * of garbage at a short download's last checkpoint.
   */
  private async hashSpan(
    span: ByteRange,
    start: Feed | undefined,
    read: ReadBytes,
    scratch: Uint8Array,
  ): Promise<Held> {
    let position = start?.end ?? span.start;
    let state = start?.state ?? xxh64Start();
    while (position < span.end) {
      const bytes = await read(position, Math.min(scratch.byteLength, span.end - position), scratch);
      // A file shorter than its done ranges: hash what is there, as a whole read would have.
      if (bytes.byteLength === 0) break;
      state = xxh64Update(state, [bytes]);
      position += bytes.byteLength;
    }
    return this.held(span, state);
  }

  private held(span: ByteRange, state: Xxh64State): Held {
    const held: Held = { start: span.start, end: span.end, hex: xxh64Hex(state) };
    // A span that reached its piece's end grows no more: its hash state is not worth keeping.
    if (span.end % this.pieceBytes !== 0) held.live = state;
    return held;
  }

  /**
   * The spans whose bytes no longer match their digest; their digests are dropped. A format-2
   * file's SHA-256 digests are checked as SHA-256 and replaced by XXH64 ones of the same bytes.
   */
  async findDamaged(read: ReadBytes, signal: AbortSignal): Promise<ByteRange[]> {
    const damaged: ByteRange[] = [];
    const legacy = this.legacy;
    for (const digest of this.all()) {
      throwIfAborted(signal);
      const length = digest.end - digest.start;
      const bytes = await read(digest.start, length);
      const state = bytes.byteLength === length ? xxh64Update(xxh64Start(), [bytes]) : undefined;
      const actual = state === undefined ? undefined : legacy ? legacyDigestOf(bytes) : xxh64Hex(state);
      if (state !== undefined && actual === digest.hex) {
        if (legacy) this.put(this.held(digest, state));
        continue;
      }
      damaged.push({ start: digest.start, end: digest.end });
      this.invalidate(digest.start, digest.end);
    }
    this.legacy = false;
    return damaged;
  }

  /** Running hashes that can grow no more (their piece's end is reached) and whose bytes have their digest. */
  private dropFinishedFeeds(): void {
    const atPieceEnd = (range: ByteRange) => range.end % this.pieceBytes === 0;
    for (const [piece, feeds] of this.feeds) {
      const digests = this.byPiece.get(piece) ?? [];
      const kept = feeds.filter(
        (feed) =>
          !digests.some(
            (digest) =>
              digest.start <= feed.start &&
              digest.end >= feed.end &&
              (atPieceEnd(feed) || atPieceEnd(digest)),
          ),
      );
      if (kept.length === 0) this.feeds.delete(piece);
      else this.feeds.set(piece, kept);
    }
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
