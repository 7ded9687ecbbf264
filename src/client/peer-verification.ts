/**
 * How the engine acts on verification: spot checks drop a lying peer and refetch what it
 * delivered; with --checksum a final mismatch audits and repairs only the peers' ranges.
 */
import { DdmError } from '../errors.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { ByteRange } from '../scheduler/types.js';
import type { Checksum } from '../storage/checksum.js';
import type { DownloadStore } from '../storage/download-store.js';
import type { DownloadEventListener } from './events.js';
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
        const message = `sent bytes that differ from the origin at offset ${offset}: dropped, its ranges are fetched again`;
        return engine
          .distrust(sourceId, message, () => verifier.rangesOf(sourceId))
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
      onIdle: () => engine.poke(),
    },
    signal,
  );
  return verifier;
}

/**
 * With --checksum and peers: a mismatch is not the end. Every peer-delivered range is compared
 * with the origin and repaired, liars are reported, and the checksum is checked again.
 */
export async function verifyWithAudit(
  store: DownloadStore,
  emit: DownloadEventListener,
  verifier: PeerVerifier,
  engine: SegmentedDownload,
  readOrigin: (range: ByteRange, signal: AbortSignal) => Promise<Uint8Array>,
  checksum: Checksum,
  signal: AbortSignal,
): Promise<void> {
  if ((await store.digest(checksum.algorithm, signal)) === checksum.hex) return;
  emit({
    type: 'notice',
    message: 'checksum mismatch: comparing the ranges peers delivered with the origin',
  });
  const deliveries = new Map(verifier.sources().map((id) => [id, verifier.rangesOf(id)] as const));
  const liars = await auditDeliveries(
    {
      deliveries,
      readLocal: (position, length) => store.read(position, length),
      readOrigin,
      write: (data, position) => store.write(data, position),
    },
    signal,
  );
  for (const [sourceId, offset] of liars) {
    engine.markDropped(sourceId, `sent bytes that differ from the origin at offset ${offset} (repaired)`);
  }
  const actual = await store.digest(checksum.algorithm, signal);
  if (actual !== checksum.hex) {
    throw new DdmError(
      'CHECKSUM_MISMATCH',
      `${checksum.algorithm} of the download is ${actual}, expected ${checksum.hex}, even with every peer range checked against the origin; the data is kept in ${store.partPath}`,
      { details: { algorithm: checksum.algorithm, expected: checksum.hex, actual } },
    );
  }
}
