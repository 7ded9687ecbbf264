import type { DownloadEvent } from '../../client/events.js';
import { JSON_PROGRESS_INTERVAL_MS } from '../../constants.js';

/** Newline-delimited JSON events on stdout, progress at most once per JSON_PROGRESS_INTERVAL_MS. */
export function jsonLinesRenderer(stdout: NodeJS.WritableStream): (event: DownloadEvent) => void {
  let lastProgress = 0;
  return (event) => {
    if (event.type === 'progress') {
      const now = Date.now();
      if (now - lastProgress < JSON_PROGRESS_INTERVAL_MS) return;
      lastProgress = now;
    }
    stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
  };
}
