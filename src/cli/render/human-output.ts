/**
 * Human output for `ddm get`: a live bar on a terminal (bytes, speed, ETA, connections, and
 * each peer's rate), plain lines otherwise, and a summary of who fetched how much.
 */
import cliProgress from 'cli-progress';
import type { DownloadEvent, WorkerStats } from '../../client/events.js';
import { formatBytes, formatDuration, formatRate } from '../../util/format.js';

export function humanRenderer(
  stderr: NodeJS.WriteStream,
  options: { bar?: boolean } = {},
): {
  onEvent: (event: DownloadEvent) => void;
  stop: () => void;
} {
  const tty = stderr.isTTY === true && (options.bar ?? true);
  let bar: cliProgress.SingleBar | undefined;
  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };
  const onEvent = (event: DownloadEvent) => {
    switch (event.type) {
      case 'start': {
        const size = event.size === null ? 'unknown size' : formatBytes(event.size);
        const resumed = event.resumedBytes > 0 ? `, resuming at ${formatBytes(event.resumedBytes)}` : '';
        stderr.write(
          `ddm: ${event.output} (${size}, ${event.connections} ${event.connections === 1 ? 'worker' : 'workers'}${resumed})\n`,
        );
        // Without a length there is no bar to fill; the start and done lines say enough.
        if (tty && event.size !== null) bar = startBar(stderr, event.size);
        break;
      }
      case 'progress':
        bar?.update(event.doneBytes, {
          done:
            event.size === null
              ? formatBytes(event.doneBytes)
              : `${formatBytes(event.doneBytes)} / ${formatBytes(event.size)}`,
          rate: formatRate(event.rateBps),
          etaText: formatDuration(event.etaSec),
          active: event.active,
          peers: peerRates(event.sources),
        });
        break;
      case 'notice':
        writeLine(`ddm: ${event.message}`);
        break;
      case 'retry':
        writeLine(
          `ddm: ${event.source}: ${event.message}; retry ${event.tryNumber} in ${formatDuration(event.delayMs / 1000)}`,
        );
        break;
      case 'peer':
        writeLine(`ddm: peer ${event.label} ${event.status}${event.message ? `: ${event.message}` : ''}`);
        break;
      case 'done':
        stopBar();
        stderr.write(
          `ddm: done: ${event.output}, ${formatBytes(event.fetchedBytes)} in ${formatDuration(event.elapsedMs / 1000)} (${formatRate(event.rateBps)})\n`,
        );
        if (event.sources.some((s) => s.kind === 'peer'))
          stderr.write(summary(event.sources, event.fetchedBytes));
        break;
      case 'error':
        stopBar();
        break;
    }
  };
  // A line printed while the bar is live would be overwritten: stop it, print, restart later.
  const writeLine = (line: string) => {
    if (bar) {
      stderr.write(`\r\x1b[2K${line}\n`);
    } else {
      stderr.write(`${line}\n`);
    }
  };
  return { onEvent, stop: stopBar };
}

function startBar(stderr: NodeJS.WriteStream, size: number): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar(
    {
      stream: stderr,
      format: ' {bar} {percentage}% | {done} | {rate} | ETA {etaText} | {active} conns{peers}',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(size, 0, { done: '0 B', rate: '--', etaText: '--', active: 0, peers: '' });
  return bar;
}

function peerRates(sources: readonly WorkerStats[]): string {
  const peers = sources.filter((s) => s.kind === 'peer');
  if (peers.length === 0) return '';
  return ` | ${sources.map((s) => `${s.label} ${s.dropped ? 'dropped' : formatRate(s.rateBps)}`).join(', ')}`;
}

function summary(sources: readonly WorkerStats[], total: number): string {
  const rows = sources.map((s) => {
    const share = total > 0 ? ((100 * s.bytes) / total).toFixed(1) : '0.0';
    const state = s.dropped ? ' (dropped)' : s.failures > 0 ? ` (${s.failures} failures)` : '';
    return `  ${s.label.padEnd(20)} ${formatBytes(s.bytes).padStart(10)}  ${share.padStart(5)}%${state}`;
  });
  return `ddm: fetched by:\n${rows.join('\n')}\n`;
}
