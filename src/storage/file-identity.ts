/**
 * Whether two answers of an origin name the same file: what lets a new link (a refreshed signed
 * URL, `aria2.changeUri`) or a rerun with another URL go on with the bytes already on disk.
 * The rule is the resume rule's: the same size, and the strongest validator the new answer gives
 * (strong ETag, else Last-Modified) equal to the one recorded. A new answer without either
 * proves nothing, so it is refused when the recorded one had a validator.
 */
import type { Validators } from '../types/validators.js';

export interface FileIdentity {
  size: number | null;
  validators: Validators;
}

/** Why `now` is not provably the file `before` describes, in words; undefined when it is. */
export function identityMismatch(before: FileIdentity, now: FileIdentity): string | undefined {
  const size = sizeMismatch(before, now);
  if (size !== undefined) return size;
  const recorded = before.validators;
  // Nothing was recorded to compare (a download that cannot resume anyway): the size is all.
  if (recorded.etag === undefined && recorded.lastModified === undefined) return undefined;
  const { etag, lastModified } = now.validators;
  if (etag !== undefined) {
    return etag === recorded.etag
      ? undefined
      : `its ETag is ${etag}, the download's is ${recorded.etag ?? 'none'}`;
  }
  if (lastModified !== undefined) {
    return lastModified === recorded.lastModified
      ? undefined
      : `its Last-Modified is ${lastModified}, the download's is ${recorded.lastModified ?? 'none'}`;
  }
  return 'it gives neither an ETag nor a Last-Modified, so nothing shows it is the same file';
}

/** A mirror of the file must have its size (its validators are the mirror server's own). */
export function sizeMismatch(before: FileIdentity, now: FileIdentity): string | undefined {
  return before.size === now.size
    ? undefined
    : `it is ${describeSize(now.size)}, the download is ${describeSize(before.size)}`;
}

function describeSize(size: number | null): string {
  return size === null ? 'of unknown size' : `${size} bytes`;
}
