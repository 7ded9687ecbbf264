/** What the user is told when a resume finds recorded progress that cannot be trusted. */

import { redactUrl } from '../origin/origin-url.js';
import type { OpenedStore } from '../storage/download-store.js';
import type { ByteRange } from '../types/byte-range.js';
import { formatBytes } from '../util/format.js';

function bytesIn(ranges: readonly ByteRange[]): number {
  return ranges.reduce((sum, range) => sum + range.end - range.start, 0);
}

export function describeResumeCheck(
  opened: Pick<OpenedStore, 'damaged' | 'unchecked' | 'resumedFromUrl' | 'resumedBySizeAlone'>,
): string[] {
  const notices: string[] = [];
  if (opened.resumedFromUrl !== undefined) {
    const from = redactUrl(opened.resumedFromUrl);
    notices.push(
      opened.resumedBySizeAlone === true
        ? `resuming progress fetched from ${from}, which does not answer now, on the size alone (as for any mirror): a checksum proves the file`
        : `resuming progress fetched from ${from}, which still serves it unchanged`,
    );
  }
  if (opened.damaged.length > 0) {
    const first = opened.damaged[0]!.start;
    notices.push(
      `${formatBytes(bytesIn(opened.damaged))} of the earlier partial download changed on disk since they were written (first at offset ${first}): fetching them again`,
    );
  }
  if (opened.unchecked.length > 0) {
    notices.push(
      `${formatBytes(bytesIn(opened.unchecked))} from peers had not been spot-checked when the last run stopped: fetching them again`,
    );
  }
  return notices;
}
