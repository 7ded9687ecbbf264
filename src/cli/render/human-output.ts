/**
 * Human output for `ddm get`: a live bar on a terminal (bytes, speed, ETA, connections, and
 * each peer's rate), plain lines otherwise, and a summary of who fetched how much.
 */
import type { DownloadEvent, WorkerStats } from '../../client/events.js';
import { isMirrorSource } from '../../client/mirror-set.js';
import { DEFAULT_TERMINAL_COLUMNS, PROGRESS_REDRAW_INTERVAL_MS } from '../../constants.js';
import { formatBytes, formatDuration, formatRate } from '../../util/format.js';
import { barLine } from './bar-line.js';
import { liveLine } from './live-line.js';

export function humanRenderer(
  stderr: NodeJS.WriteStream,
  options: { bar?: boolean } = {},
): {
  onEvent: (event: DownloadEvent) => void;
  stop: () => void;
} {
  const tty = stderr.isTTY === true && (options.bar ?? true);
  const live = liveLine(stderr);
  let barSize: number | null | undefined;
  let lastDraw = 0;
  const stopBar = () => {
    live.clear();
    barSize = undefined;
  };
  const onEvent = (event: DownloadEvent) => {
    switch (event.type) {
      case 'start': {
        const size = event.size === null ? 'unknown size' : formatBytes(event.size);
        const resumed = event.resumedBytes > 0 ? `, resuming at ${formatBytes(event.resumedBytes)}` : '';
        writeLine(
          `ddm: ${event.output} (${size}, ${event.connections} ${event.connections === 1 ? 'worker' : 'workers'}${resumed})`,
        );
        // Without a length there is no bar to fill; the start and done lines say enough.
        if (tty && event.size !== null) {
          barSize = event.size;
          live.show(barLine({ ...EMPTY_BAR, fraction: 0 }, columns(stderr)));
        }
        break;
      }
      case 'progress': {
        if (barSize === undefined || barSize === null) break;
        const now = Date.now();
        if (now - lastDraw < PROGRESS_REDRAW_INTERVAL_MS) break;
        lastDraw = now;
        live.show(
          barLine(
            {
              fraction: barSize > 0 ? event.doneBytes / barSize : 1,
              done: `${formatBytes(event.doneBytes)} / ${formatBytes(barSize)}`,
              rate: formatRate(event.rateBps),
              eta: formatDuration(event.etaSec),
              active: event.active,
              peers: peerRates(event.sources),
            },
            columns(stderr),
          ),
        );
        break;
      }
      case 'notice':
        writeLine(`ddm: ${event.message}`);
        break;
      case 'retry':
        writeLine(
          `ddm: ${event.source}: ${event.message}; retry ${event.tryNumber} in ${formatDuration(event.delayMs / 1000)}`,
        );
        break;
      case 'peer':
        // An offer on its way is news only once answered.
        if (event.status === 'asking') break;
        writeLine(
          `ddm: ${isMirrorSource(event.source) ? event.label : `peer ${event.label}`} ${event.status}${event.message ? `: ${event.message}` : ''}`,
        );
        break;
      case 'done':
        // The bar goes first, so the summary starts on its row, below every notice.
        stopBar();
        stderr.write(
          `ddm: done: ${event.output}, ${formatBytes(event.fetchedBytes)} in ${formatDuration(event.elapsedMs / 1000)} (${formatRate(event.rateBps)})\n`,
        );
        if (event.sources.some((s) => s.kind === 'peer' || isMirrorSource(s.source)))
          stderr.write(summary(event.sources, event.fetchedBytes));
        break;
      case 'error':
        stopBar();
        break;
    }
  };
  // Notices go above a live bar, which is drawn again below them.
  const writeLine = (line: string) => {
    if (barSize !== undefined) live.printAbove(line);
    else stderr.write(`${line}\n`);
  };
  return { onEvent, stop: stopBar };
}

const EMPTY_BAR = { done: '0 B', rate: '--', eta: '--', active: 0, peers: [] };

function columns(stream: NodeJS.WriteStream): number {
  return stream.columns > 0 ? stream.columns : DEFAULT_TERMINAL_COLUMNS;
}

function peerRates(sources: readonly WorkerStats[]): string[] {
  if (!sources.some((s) => s.kind === 'peer')) return [];
  return sources.map((s) => `${s.label} ${s.dropped ? 'dropped' : formatRate(s.rateBps)}`);
}

function summary(sources: readonly WorkerStats[], total: number): string {
  const rows = sources.map((s) => {
    const share = total > 0 ? ((100 * s.bytes) / total).toFixed(1) : '0.0';
    const state = s.dropped ? ' (dropped)' : s.failures > 0 ? ` (${s.failures} failures)` : '';
    return `  ${s.label.padEnd(20)} ${formatBytes(s.bytes).padStart(10)}  ${share.padStart(5)}%${state}`;
  });
  return `ddm: fetched by:\n${rows.join('\n')}\n`;
}
