/**
 * Does something to the swarm once a download reaches a given fraction, as seen in ddm's --json
 * progress events: the fault scenarios kill a helper or slow its link half way through. Events
 * come about once a second, which at these rates is several percent of the file; so when the
 * target falls before the next event, the action is timed from the current rate instead.
 */
import { JSON_PROGRESS_INTERVAL_MS } from '../../src/constants.js';
import { BenchError } from '../lib/bench-error.js';
import type { DdmProgress } from './downloads.js';

export interface Firing {
  /** The fraction of the file done when the action ran. */
  readonly fraction: number;
  /** Seconds from the start of the download to the action. */
  readonly elapsedSeconds: number;
}

export interface ProgressTrigger {
  readonly onProgress: (progress: DdmProgress) => void;
  /** Waits for the action to finish and says when it ran; fails if it never ran or failed. */
  fired(): Promise<Firing>;
}

function secondsToReach(progress: DdmProgress, fraction: number): number {
  const missingBytes = fraction * progress.sizeBytes - progress.doneBytes;
  if (missingBytes <= 0) return 0;
  return progress.rateBytesPerSecond > 0
    ? missingBytes / progress.rateBytesPerSecond
    : Number.POSITIVE_INFINITY;
}

/** Bytes done at `seconds`, read off the straight line between the events either side. */
function interpolate(before: DdmProgress, after: DdmProgress, seconds: number): number {
  const span = after.elapsedSeconds - before.elapsedSeconds;
  if (span <= 0) return after.doneBytes;
  const share = Math.min(1, Math.max(0, (seconds - before.elapsedSeconds) / span));
  return before.doneBytes + share * (after.doneBytes - before.doneBytes);
}

export function atFraction(fraction: number, action: () => Promise<void>): ProgressTrigger {
  let firing: Firing | undefined;
  let timer: NodeJS.Timeout | undefined;
  let last: DdmProgress | undefined;
  let eventBefore: DdmProgress | undefined;
  let eventAfter: DdmProgress | undefined;
  let done: Promise<void> = Promise.resolve();
  const fire = (at: Firing) => {
    firing = at;
    eventBefore = last;
    done = action();
    // fired() reports a failure; this only keeps it from being unhandled until then.
    done.catch(() => undefined);
  };
  return {
    onProgress(progress) {
      if (progress.sizeBytes <= 0) return;
      if (firing !== undefined) {
        eventAfter ??= progress;
        return;
      }
      last = progress;
      const waitSeconds = secondsToReach(progress, fraction);
      // A later event may come first; if so it decides again with a fresher rate.
      clearTimeout(timer);
      if (waitSeconds === 0) {
        fire({ fraction: progress.doneBytes / progress.sizeBytes, elapsedSeconds: progress.elapsedSeconds });
      } else if (waitSeconds * 1000 < JSON_PROGRESS_INTERVAL_MS) {
        timer = setTimeout(
          () => fire({ fraction, elapsedSeconds: progress.elapsedSeconds + waitSeconds }),
          waitSeconds * 1000,
        );
      }
    },
    async fired() {
      clearTimeout(timer);
      await done;
      if (firing === undefined) {
        throw new BenchError(
          'TOOL_FAILED',
          `no progress event reached ${fraction * 100}% before the download ended`,
        );
      }
      if (eventBefore === undefined || eventAfter === undefined) return firing;
      // A timed firing only projected its fraction; the events around it tell what it really was.
      const doneBytes = interpolate(eventBefore, eventAfter, firing.elapsedSeconds);
      return { ...firing, fraction: doneBytes / eventAfter.sizeBytes };
    },
  };
}
