import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Validators } from '../client/range-source.js';
import { CONTROL_FORMAT_VERSION } from '../constants.js';
import { DdmError } from '../errors.js';
import type { ByteRange } from '../scheduler/types.js';
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
  /** ISO 8601 timestamps. */
  createdAt: string;
  updatedAt: string;
}

const offsetSchema = z.int().nonnegative();

const onDiskSchema = z
  .object({
    format: z.literal(FORMAT_MARKER),
    version: z.literal(CONTROL_FORMAT_VERSION),
    url: z.string().min(1),
    finalUrl: z.string().min(1),
    size: offsetSchema.nullable(),
    validators: z.object({ etag: z.string().optional(), lastModified: z.string().optional() }),
    done: z.array(z.tuple([offsetSchema, offsetSchema])),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .superRefine((value, context) => {
    const problem = doneRangesProblem(value.done, value.size);
    if (problem !== undefined) context.addIssue({ code: 'custom', path: ['done'], message: problem });
  });

type OnDisk = z.infer<typeof onDiskSchema>;

function doneRangesProblem(
  done: readonly (readonly [number, number])[],
  size: number | null,
): string | undefined {
  let previousEnd = 0;
  for (const [start, end] of done) {
    if (start >= end) return `empty or reversed range [${start}, ${end})`;
    if (start < previousEnd) return `range [${start}, ${end}) is out of order or overlaps the one before`;
    if (size !== null && end > size) return `range [${start}, ${end}) goes past the size ${size}`;
    previousEnd = end;
  }
  return undefined;
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
  const done = mergeRanges(state.done);
  const body: OnDisk = {
    format: FORMAT_MARKER,
    version: CONTROL_FORMAT_VERSION,
    url: state.url,
    finalUrl: state.finalUrl,
    size: state.size,
    validators: withoutUndefined(state.validators),
    done: done.map((range) => [range.start, range.end] as [number, number]),
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
  };
  const checked = onDiskSchema.safeParse(body);
  if (!checked.success) {
    throw new TypeError(`refusing to write an invalid control state: ${z.prettifyError(checked.error)}`);
  }
  return JSON.stringify({ ...body, integrity: integrityOf(body) });
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
  if (looksOurs && typeof record.version === 'number' && record.version > CONTROL_FORMAT_VERSION) {
    throw foreign(path, `was written by a newer ddm (control format ${record.version})`);
  }
  // Checked before the schema so that any edit, even one that still looks valid, is caught.
  const { integrity, ...body } = record;
  if (typeof integrity !== 'string' || integrity !== integrityOfParsed(body)) {
    throw corrupt(path, 'integrity check failed');
  }
  const result = onDiskSchema.safeParse(body);
  if (!result.success) throw corrupt(path, z.prettifyError(result.error).replaceAll('\n', '; '));
  return toState(result.data);
}

function toState(onDisk: OnDisk): ControlState {
  return {
    url: onDisk.url,
    finalUrl: onDisk.finalUrl,
    size: onDisk.size,
    validators: withoutUndefined(onDisk.validators),
    done: onDisk.done.map(([start, end]) => ({ start, end })),
    createdAt: onDisk.createdAt,
    updatedAt: onDisk.updatedAt,
  };
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
