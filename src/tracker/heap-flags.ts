/**
 * V8 settings for a `ddm tracker` process, on top of every process's (src/util/v8-flags.ts). A
 * tracker's garbage is almost all short-lived (a request, its signature, its answer), and V8
 * grows the young generation under such churn up to 2 × 16 MiB semi-spaces plus what is promoted
 * meanwhile: at 5,000 signed requests a second that was ~50 MiB of a 170 MiB peak, which the
 * young generation kept at its starting size (every process's setting) removes. The old
 * generation, too, is let grow by 10% past what a full GC left rather than V8's default (up to
 * 4×, by allocation rate): a tracker's live data is small (~5 MiB at 10,000 peers), its
 * old-space garbage is requests promoted mid-flight. Measured with `npm run bench -- tracker` on
 * a loaded 2-core machine: peak RSS 172 -> 137 MiB with the first, -> 106 MiB with both, CPU per
 * request unchanged within the noise. V8 reads the flag whenever it sizes the heap, so it
 * applies at run time.
 */
import { setFlagsFromString } from 'node:v8';
import { TRACKER_HEAP_GROWING_PERCENT } from '../constants.js';
import { applyProcessV8Flags } from '../util/v8-flags.js';

let applied = false;

/** Once per process, before the tracker takes load; a no-op on a V8 that ignores the flag. */
export function applyTrackerHeapFlags(): void {
  if (applied) return;
  applied = true;
  applyProcessV8Flags();
  setFlagsFromString(`--heap-growing-percent=${TRACKER_HEAP_GROWING_PERCENT}`);
}
