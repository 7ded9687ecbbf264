/**
 * V8 settings for a `ddm tracker` process. A tracker's garbage is almost all short-lived (a
 * request, its signature, its answer), and V8 grows the young generation under such churn up to
 * 2 × 16 MiB semi-spaces plus what is promoted meanwhile: at 5,000 signed requests a second that
 * was ~50 MiB of a 170 MiB peak. Keeping the semi-spaces at their starting size costs more, but
 * cheaper, scavenges and keeps the peak near the live data. Applied at run time (this flag is
 * read whenever the young generation would grow), so no re-exec and no second process.
 */
import { setFlagsFromString } from 'node:v8';
import { TRACKER_SEMI_SPACE_GROWTH_FACTOR } from '../constants.js';

let applied = false;

/** Once per process, before the tracker takes load; a no-op on a V8 that ignores the flag. */
export function applyTrackerHeapFlags(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString(`--semi-space-growth-factor=${TRACKER_SEMI_SPACE_GROWTH_FACTOR}`);
}
