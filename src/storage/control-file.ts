import { createHash } from 'node:crypto';
import * as v from 'valibot';
import {
  CONTROL_FORMAT_VERSION,
  LEGACY_PIECE_DIGEST_ALGORITHM,
  LEGACY_PIECE_DIGEST_HEX_CHARS,
  PIECE_DIGEST_ALGORITHM,
  PIECE_DIGEST_HEX_CHARS,
} from '../constants.js';
import { DdmError } from '../errors.js';
import type { ByteRange } from '../types/byte-range.js';
import type { Validators } from '../types/validators.js';
import { describeIssues } from '../util/schema-issues.js';
import { nonEmptyString, wholeNumber } from '../util/schema-parts.js';
import { mergeRanges } from './byte-ranges.js';
import { replaceFileAtomically } from './durable-write.js';
import { throwIfAborted } from './fs-errors.js';
import { readOwnFile } from './own-file.js';

/** Marks a JSON file as ours, so a foreign file is told apart from a damaged one. */
const FORMAT_MARKER = 'ddm-control';
const INTEGRITY_PREFIX = 'sha256:';

/** What a control file records about a download in progress. */
export interface ControlState {
  /** The URL as the user gave it; a different URL means a different download. */
  url: string;
  /** Where redirects ended when the download started. */
  finalUrl: string;
  /** Total size in bytes, or null when the origin did not say. */
  size: number | null;
  validators: Validators;
  /** Ranges whose bytes are synced to the `.part` file: sorted, merged, within [0, size]. */
  done: ByteRange[];
  /**
   * Inside `done`: bytes that came from peers (in any run). After a checksum mismatch they are
   * compared with the origin and repaired; everything else in `done` came from the origin itself.
   */
  peer?: ByteRange[];
  /** Inside `peer`: bytes whose spot checks had not passed yet. A resume fetches them again. */
  unchecked?: ByteRange[];
  /** Digests of completed pieces, checked on resume to find a damaged `.part`. */
  pieces?: PieceDigestRecord;
  /** ISO 8601 timestamps. */
  createdAt: string;
  updatedAt: string;
}

/** A digest of [start, end), which lies inside one aligned piece of `bytes` and inside `done`. */
export interface PieceDigest {
  start: number;
  end: number;
  hex: string;
}

export interface PieceDigestRecord {
  /** Piece size: no digest spans a multiple of it, so damage costs at most one piece per digest. */
  bytes: number;
  /**
   * `xxh64` (format 3: each digest all 16 hex digits), or `sha256` read from a format-2 file (its
   * first 32 hex digits), which a resume checks and replaces.
   */
  algorithm: string;
  digests: PieceDigest[];
}

const offsetSchema = wholeNumber(0);
const rangesSchema = v.array(v.strictTuple([offsetSchema, offsetSchema]));

const commonFields = {
  format: v.literal(FORMAT_MARKER),
  url: nonEmptyString,
  finalUrl: nonEmptyString,
  size: v.nullable(offsetSchema),
  validators: v.object({ etag: v.optional(v.string()), lastModified: v.optional(v.string()) }),
  done: rangesSchema,
  createdAt: v.pipe(v.string(), v.isoTimestamp()),
  updatedAt: v.pipe(v.string(), v.isoTimestamp()),
};

function piecesSchemaOf(algorithm: string, hexChars: number) {
  const hexDigest = new RegExp(`^[0-9a-f]{${hexChars}}$`);
  return v.object({
    bytes: v.pipe(v.number(), v.safeInteger(), v.gtValue(0)),
    algorithm: v.literal(algorithm),
    digests: v.array(v.strictTuple([offsetSchema, offsetSchema, v.pipe(v.string(), v.regex(hexDigest))])),
  });
}

const piecesSchema = piecesSchemaOf(PIECE_DIGEST_ALGORITHM, PIECE_DIGEST_HEX_CHARS);
type PiecesOnDisk = v.InferOutput<typeof piecesSchema>;

/** Version 1: `done` only. It cannot say which bytes came from peers (see toState). */
const versionOneSchema = v.pipe(
  v.object({ ...commonFields, version: v.literal(1) }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (dataset.typed) checkRanges(dataset.value, addIssue, 'done', null);
  }),
);

/** Versions 2 and 3 differ only in the piece digests' hash: SHA-256 (cut to 128 bits), then XXH64. */
function rangedSchemaOf(version: number, pieces: typeof piecesSchema) {
  return v.pipe(
    v.object({
      ...commonFields,
      version: v.literal(version),
      peer: rangesSchema,
      unchecked: rangesSchema,
      pieces: v.nullable(pieces),
    }),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const value = dataset.value;
      checkRanges(value, addIssue, 'done', null);
      checkRanges(value, addIssue, 'peer', value.done);
      checkRanges(value, addIssue, 'unchecked', value.peer);
      const problem = value.pieces ? piecesProblem(value.pieces, value.done) : undefined;
      if (problem !== undefined) addIssue({ message: problem, path: [pathItem(value, 'pieces')] });
    }),
  );
}

const onDiskSchema = rangedSchemaOf(CONTROL_FORMAT_VERSION, piecesSchema);
const versionTwoSchema = rangedSchemaOf(
  2,
  piecesSchemaOf(LEGACY_PIECE_DIGEST_ALGORITHM, LEGACY_PIECE_DIGEST_HEX_CHARS),
);

type OnDisk = v.InferOutput<typeof onDiskSchema>;
type VersionOne = v.InferOutput<typeof versionOneSchema>;
type Tuples = readonly (readonly [number, number])[];
type AddIssue = (info: { message: string; path: [v.ObjectPathItem] }) => void;

function pathItem(input: object, key: string): v.ObjectPathItem {
  const record = input as Record<string, unknown>;
  return { type: 'object', origin: 'value', input: record, key, value: record[key] };
}

function checkRanges<K extends string>(
  value: { size: number | null } & Record<K, Tuples>,
  addIssue: AddIssue,
  key: K,
  within: Tuples | null,
): void {
  const problem =
    rangesProblem(value[key], value.size) ?? (within ? outsideProblem(value[key], within) : undefined);
  if (problem !== undefined) addIssue({ message: problem, path: [pathItem(value, key)] });
}

function rangesProblem(ranges: Tuples, size: number | null): string | undefined {
  let previousEnd = 0;
  for (const [start, end] of ranges) {
    if (start >= end) return `empty or reversed range [${start}, ${end})`;
    if (start < previousEnd) return `range [${start}, ${end}) is out of order or overlaps the one before`;
    if (size !== null && end > size) return `range [${start}, ${end}) goes past the size ${size}`;
    previousEnd = end;
  }
  return undefined;
}

/** Both lists are sorted and merged, so each inner range must sit inside one outer range. */
function outsideProblem(inner: Tuples, outer: Tuples): string | undefined {
  for (const [start, end] of inner) {
    if (!outer.some(([from, to]) => from <= start && end <= to)) {
      return `range [${start}, ${end}) is not inside a range it belongs to`;
    }
  }
  return undefined;
}

function piecesProblem(pieces: PiecesOnDisk, done: Tuples): string | undefined {
  const ranges = pieces.digests.map(([start, end]) => [start, end] as const);
  const problem = rangesProblem(ranges, null) ?? outsideProblem(ranges, done);
  if (problem !== undefined) return problem;
  const across = ranges.find(
    ([start, end]) => Math.floor(start / pieces.bytes) !== Math.floor((end - 1) / pieces.bytes),
  );
  return across ? `digest of [${across[0]}, ${across[1]}) spans more than one piece` : undefined;
}

/** Covers every field but itself, in the order written, so truncation or any edit of a value shows. */
function integrityOf(body: object): string {
  return INTEGRITY_PREFIX + createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

function corrupt(path: string, reason: string, cause?: unknown): DdmError {
  return new DdmError(
    'CONTROL_CORRUPT',
    `control file ${path} is damaged (${reason}); delete it or run again with --overwrite to start over`,
    { cause, details: { path, reason } },
  );
}

function foreign(path: string, reason: string): DdmError {
  return new DdmError(
    'CONTROL_FOREIGN',
    `${path} ${reason}; move it away or run again with --overwrite to start over`,
    { details: { path, reason } },
  );
}

/** The exact text written to disk. It ends with `}` and no newline, so any truncation breaks the JSON. */
export function serializeControl(state: ControlState): string {
  const body: OnDisk = {
    format: FORMAT_MARKER,
    version: CONTROL_FORMAT_VERSION,
    url: state.url,
    finalUrl: state.finalUrl,
    size: state.size,
    validators: withoutUndefined(state.validators),
    done: toTuples(state.done),
    peer: toTuples(state.peer ?? []),
    unchecked: toTuples(state.unchecked ?? []),
    pieces: state.pieces ? piecesOnDisk(state.pieces) : null,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
  };
  const checked = v.safeParse(onDiskSchema, body);
  if (!checked.success) {
    throw new TypeError(
      `refusing to write an invalid control state: ${describeIssues(checked.issues, 3, 'state')}`,
    );
  }
  return JSON.stringify({ ...body, integrity: integrityOf(body) });
}

function toTuples(ranges: readonly ByteRange[]): [number, number][] {
  return mergeRanges(ranges).map((range) => [range.start, range.end]);
}

function piecesOnDisk(pieces: PieceDigestRecord): NonNullable<OnDisk['pieces']> {
  const digests = [...pieces.digests]
    .sort((a, b) => a.start - b.start)
    .map(({ start, end, hex }) => [start, end, hex] as [number, number, string]);
  return { bytes: pieces.bytes, algorithm: PIECE_DIGEST_ALGORITHM, digests };
}

function withoutUndefined(validators: Validators): Validators {
  const result: Validators = {};
  if (validators.etag !== undefined) result.etag = validators.etag;
  if (validators.lastModified !== undefined) result.lastModified = validators.lastModified;
  return result;
}

/** Parses control file text; `path` only names the file in errors. */
export function parseControl(text: string, path: string): ControlState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw corrupt(path, 'not valid JSON, probably truncated', error);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw foreign(path, 'is not a ddm control file');
  }
  const record = parsed as Record<string, unknown>;
  const looksOurs = record.format === FORMAT_MARKER;
  if (!looksOurs && !('integrity' in record)) throw foreign(path, 'is not a ddm control file');
  // Checked before the schema so that any edit, even one that still looks valid, is caught; and
  // before the version, so that a damaged version number is not taken for a newer ddm's file
  // (every version computes `integrity` the same way, so a newer file's is intact).
  const { integrity, ...body } = record;
  const intact = typeof integrity === 'string' && integrity === integrityOfParsed(body);
  if ('integrity' in record && !intact) throw corrupt(path, 'integrity check failed');
  if (looksOurs && typeof record.version === 'number' && record.version > CONTROL_FORMAT_VERSION) {
    throw foreign(path, `was written by a newer ddm (control format ${record.version})`);
  }
  if (!intact) throw corrupt(path, 'integrity check failed');
  if (record.version === 1) {
    const old = v.safeParse(versionOneSchema, body);
    if (!old.success) throw corrupt(path, describeIssues(old.issues, 3, 'file'));
    return fromVersionOne(old.output);
  }
  const result = v.safeParse(record.version === 2 ? versionTwoSchema : onDiskSchema, body);
  if (!result.success) throw corrupt(path, describeIssues(result.issues, 3, 'file'));
  return toState(result.output);
}

function toRanges(tuples: Tuples): ByteRange[] {
  return tuples.map(([start, end]) => ({ start, end }));
}

function toState(onDisk: OnDisk): ControlState {
  const state: ControlState = {
    url: onDisk.url,
    finalUrl: onDisk.finalUrl,
    size: onDisk.size,
    validators: withoutUndefined(onDisk.validators),
    done: toRanges(onDisk.done),
    createdAt: onDisk.createdAt,
    updatedAt: onDisk.updatedAt,
  };
  if (onDisk.peer.length > 0) state.peer = toRanges(onDisk.peer);
  if (onDisk.unchecked.length > 0) state.unchecked = toRanges(onDisk.unchecked);
  if (onDisk.pieces) {
    state.pieces = {
      bytes: onDisk.pieces.bytes,
      algorithm: onDisk.pieces.algorithm,
      digests: onDisk.pieces.digests.map(([start, end, hex]) => ({ start, end, hex })),
    };
  }
  return state;
}

/**
 * A version-1 file's `done` ranges are resumed, but version 1 recorded peers' bytes as done
 * before they were spot-checked and did not say which bytes came from peers. So every one of
 * them counts as peer bytes: spot-checked ones are kept (not refetched: that would throw away
 * every resume across an upgrade), and if `--checksum` then fails, all of them are compared with
 * the origin and repaired instead of failing again. Without `--checksum` such bytes are trusted,
 * as version 1 did; it has no piece digests either, so damage to its `.part` goes unnoticed.
 */
function fromVersionOne(onDisk: VersionOne): ControlState {
  const done = toRanges(onDisk.done);
  const state: ControlState = {
    url: onDisk.url,
    finalUrl: onDisk.finalUrl,
    size: onDisk.size,
    validators: withoutUndefined(onDisk.validators),
    done,
    createdAt: onDisk.createdAt,
    updatedAt: onDisk.updatedAt,
  };
  if (done.length > 0) state.peer = done.map((range) => ({ ...range }));
  return state;
}

/** Durably replaces the control file at `path`: after a crash it holds the old or the new state. */
export async function saveControl(path: string, state: ControlState, signal: AbortSignal): Promise<void> {
  await replaceFileAtomically(path, serializeControl(state), signal);
}

/** Reads the control file at `path`; null when there is none. */
export async function loadControl(path: string, signal: AbortSignal): Promise<ControlState | null> {
  throwIfAborted(signal);
  const text = await readOwnFile(path, signal);
  return text === undefined ? null : parseControl(text, path);
}

/** The integrity of a parsed body, or undefined when it cannot be computed (e.g. absurdly deep JSON). */
function integrityOfParsed(body: object): string | undefined {
  try {
    return integrityOf(body);
  } catch {
    return undefined;
  }
}
