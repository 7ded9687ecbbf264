/**
 * What an earlier run's progress is worth before it is resumed: pieces whose bytes no longer
 * match their digest were damaged on disk, and peer bytes that were never spot-checked may be a
 * liar's. Both are taken out of `done`, so they are fetched again.
 */
import { RangeSet } from '../scheduler/range-set.js';
import type { ByteRange } from '../types/byte-range.js';
import { intersectRanges, mergeRanges } from './byte-ranges.js';
import type { ControlState } from './control-file.js';
import { PeerRanges } from './peer-ranges.js';
import { loadPieceDigests, PieceDigests, type ReadBytes } from './piece-digests.js';

export interface ResumeCheck {
  /** What can be resumed. */
  done: ByteRange[];
  peerRanges: PeerRanges;
  digests: PieceDigests;
  /** Done bytes that no longer match their digest. */
  damaged: ByteRange[];
  /** Peer bytes recorded before their spot checks passed. */
  unchecked: ByteRange[];
}

export async function checkResumed(
  state: ControlState,
  read: ReadBytes,
  signal: AbortSignal,
): Promise<ResumeCheck> {
  await loadPieceDigests();
  const digests = PieceDigests.from(state.pieces);
  const damaged = mergeRanges(await digests.findDamaged(read, signal));
  const unchecked = mergeRanges(state.unchecked ?? []);
  const done = new RangeSet(state.done);
  for (const range of [...damaged, ...unchecked]) done.subtract(range.start, range.end);
  const resumable = done.toArray();
  const peerRanges = new PeerRanges(intersectRanges(mergeRanges(state.peer ?? []), resumable));
  return { done: resumable, peerRanges, digests, damaged, unchecked };
}
