/**
 * After a checksum mismatch: compare every range that peers delivered with the origin, chunk by
 * chunk, and write the origin's bytes where they differ. Only peer-delivered bytes are fetched
 * again, never the whole file; the local connections' bytes came from the origin already.
 */
import { AUDIT_CHUNK_BYTES } from '../constants.js';
import type { ByteRange } from '../types/byte-range.js';
import { firstDifference } from './peer-verifier.js';

export interface AuditDeps {
  deliveries: ReadonlyMap<string, readonly ByteRange[]>;
  readLocal(position: number, length: number): Promise<Uint8Array>;
  readOrigin(range: ByteRange, signal: AbortSignal): Promise<Uint8Array>;
  write(data: Uint8Array, position: number): Promise<void>;
}

/** Returns the sources whose bytes differed from the origin's (now repaired), with the first bad offset. */
export async function auditDeliveries(deps: AuditDeps, signal: AbortSignal): Promise<Map<string, number>> {
  const liars = new Map<string, number>();
  for (const [sourceId, ranges] of deps.deliveries) {
    for (const range of ranges) {
      for (let start = range.start; start < range.end; start += AUDIT_CHUNK_BYTES) {
        const chunk = { start, end: Math.min(range.end, start + AUDIT_CHUNK_BYTES) };
        const [local, origin] = await Promise.all([
          deps.readLocal(chunk.start, chunk.end - chunk.start),
          deps.readOrigin(chunk, signal),
        ]);
        const offset = firstDifference(local, origin);
        if (offset === -1) continue;
        if (!liars.has(sourceId)) liars.set(sourceId, chunk.start + offset);
        await deps.write(origin, chunk.start);
      }
    }
  }
  return liars;
}
