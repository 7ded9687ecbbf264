/**
 * How the engine acts on verification: spot checks drop a lying peer and refetch what it
 * delivered; with --checksum a final mismatch audits and repairs only the peers' ranges, this
 * run's and those earlier runs recorded in the control file.
 */
import { DdmError } from '../errors.js';
import { RangeSet } from '../scheduler/range-set.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { Checksum } from '../storage/checksum.js';
import type { DownloadStore } from '../storage/download-store.js';
import type { ByteRange } from '../types/byte-range.js';
import type { DownloadEventListener } from './events.js';
import { isMirrorSource } from './mirror-set.js';
import { auditDeliveries } from './peer-audit.js';
import { PeerVerifier } from './peer-verifier.js';
import type { SegmentedDownload } from './segmented-download.js';

/** Spot checks of peer bytes; a liar is dropped and everything it delivered is fetched again. */
export function createVerifier(
  store: DownloadStore,
  emit: DownloadEventListener,
  engine: SegmentedDownload,
  scheduler: Scheduler,
  readOrigin: (range: ByteRange, signal: AbortSignal) => Promise<Uint8Array>,
  signal: AbortSignal,
): PeerVerifier {
  const unverified = new Set<string>();
  const verifier: PeerVerifier = new PeerVerifier(
    {
      readLocal: (position, length) => store.read(position, length),
      readOrigin,
      onMismatch: (sourceId, offset) => {
        // Two servers disagreeing cannot say which is right: the primary URL is believed (and
        // with `checksum` the final hash has the last word, auditing what the mirror delivered).
        const message = isMirrorSource(sourceId)
          ? `served bytes that differ from the primary URL's at offset ${offset}: dropped, its ranges are fetched again`
          : `sent bytes that differ from the origin at offset ${offset}: dropped, its ranges are fetched again`;
        const reopen = () => {
          const ranges = verifier.rangesOf(sourceId);
          for (const range of ranges) store.peerRanges.forget(range.start, range.end);
          return ranges;
        };
        return engine
          .distrust(sourceId, message, reopen)
          .then(() => {
            verifier.forget(sourceId);
            return store.checkpoint(scheduler.doneRanges(), signal);
          })
          .catch(() => {});
      },
      onUnverified: (sourceId, error) => {
        if (unverified.has(sourceId)) return;
        unverified.add(sourceId);
        const reason = error instanceof Error ? error.message : String(error);
        emit({
          type: 'notice',
          message: `could not spot-check bytes from ${sourceId} against the origin: ${reason}`,
        });
      },
      onPieceChecked: (_sourceId, start, end) => store.peerRanges.checked(start, end),
      onIdle: () => engine.poke(),
    },
    signal,
  );
  return verifier;
}

/** Where the bytes the audit compares with the origin came from. */
const EARLIER_RUNS = 'earlier runs';

export interface FinalCheck {
  store: DownloadStore;
  emit: DownloadEventListener;
  verifier: PeerVerifier | undefined;
  engine: SegmentedDownload;
  readOrigin: (range: ByteRange, signal: AbortSignal) => Promise<Uint8Array>;
  /** Every byte, for the checkpoint after a repair. */
  done: readonly ByteRange[];
}

/**
 * The whole-file check with --checksum. A mismatch is not the end while peers delivered bytes:
 * every peer range (this run's and earlier runs') is compared with the origin and repaired,
 * liars are reported, and the checksum is checked again.
 */
export async function verifyWithAudit(
  check: FinalCheck,
  checksum: Checksum,
  signal: AbortSignal,
): Promise<void> {
  const { store, emit } = check;
  const first = await store.digest(checksum.algorithm, signal);
  if (first === checksum.hex) return;
  const deliveries = deliveriesToAudit(store, check.verifier);
  if (deliveries.size === 0) throw mismatchError(checksum, first, store.partPath, false);
  emit({
    type: 'notice',
    message: 'checksum mismatch: comparing the ranges peers delivered with the origin',
  });
  const liars = await auditDeliveries(
    {
      deliveries,
      readLocal: (position, length) => store.read(position, length),
      readOrigin: check.readOrigin,
      write: (data, position) => store.write(data, position),
    },
    signal,
  );
  for (const [sourceId, offset] of liars) {
    check.engine.markDropped(
      sourceId,
      `sent bytes that differ from the origin at offset ${offset} (repaired)`,
    );
  }
  // Every peer byte now matches the origin: a later run need not compare them again.
  store.peerRanges.clear();
  await store.checkpoint(check.done, signal);
  const actual = await store.digest(checksum.algorithm, signal);
  if (actual !== checksum.hex) throw mismatchError(checksum, actual, store.partPath, true);
}

/** This run's deliveries by source, and what earlier runs recorded that this run did not. */
function deliveriesToAudit(
  store: DownloadStore,
  verifier: PeerVerifier | undefined,
): Map<string, ByteRange[]> {
  const deliveries = new Map<string, ByteRange[]>();
  const earlier = new RangeSet(store.peerRanges.peer);
  for (const id of verifier?.sources() ?? []) {
    const ranges = verifier!.rangesOf(id);
    if (ranges.length > 0) deliveries.set(id, ranges);
    for (const range of ranges) earlier.subtract(range.start, range.end);
  }
  if (earlier.count > 0) deliveries.set(EARLIER_RUNS, earlier.toArray());
  return deliveries;
}

/** Says what a rerun will do, and it does: hash again without fetching, repairing damaged pieces. */
function mismatchError(checksum: Checksum, actual: string, path: string, audited: boolean): DdmError {
  const why = audited
    ? 'even after every range peers delivered was compared with the origin and repaired'
    : 'and every byte came from the origin';
  return new DdmError(
    'CHECKSUM_MISMATCH',
    `${checksum.algorithm} of the download is ${actual}, expected ${checksum.hex}, ${why}: the origin's file is not the one the checksum describes, or the checksum is wrong. The data is kept in ${path}: the same command again only hashes it again (fetching just pieces found damaged on disk); \`overwrite\` fetches it all again`,
    { details: { algorithm: checksum.algorithm, expected: checksum.hex, actual, path } },
  );
}
