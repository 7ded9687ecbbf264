/**
 * The progress bar on a terminal, drawn into a fake 80-column terminal: notices go above the
 * live bar, the summary below it, and no row is wider than the terminal.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { barLine } from '../../src/cli/render/bar-line.js';
import { humanRenderer } from '../../src/cli/render/human-output.js';
import type { WorkerStats } from '../../src/client/events.js';
import { PROGRESS_REDRAW_INTERVAL_MS } from '../../src/constants.js';

/**
 * Just enough of a terminal: printable characters overwrite at the cursor and wrap at `columns`,
 * `\r`, `\n`, erase line (CSI 2K), cursor save and restore (ESC 7, ESC 8); other CSI is ignored.
 */
class FakeTerminal extends Writable {
  readonly isTTY = true;
  rows: string[] = [''];
  row = 0;
  col = 0;
  saved: [number, number] = [0, 0];
  /** Rows the terminal had to wrap: a live line that wraps cannot be redrawn in place. */
  wraps = 0;

  constructor(readonly columns: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.feed(chunk.toString());
    done();
  }

  private feed(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === '\x1b') {
        const csi = text.slice(i).match(/^\x1b\[([?\d;]*)([A-Za-z])/);
        if (csi) {
          if (csi[2] === 'K' && csi[1] === '2') this.rows[this.row] = '';
          if (csi[2] === 'G') this.col = Math.max(0, Number(csi[1] || 1) - 1);
          i += csi[0].length - 1;
          continue;
        }
        const next = text[i + 1];
        if (next === '7') this.saved = [this.row, this.col];
        if (next === '8') [this.row, this.col] = this.saved;
        i += 1;
        continue;
      }
      if (c === '\r') this.col = 0;
      else if (c === '\n') this.newRow();
      else {
        if (this.col >= this.columns) {
          this.wraps += 1;
          this.newRow();
        }
        const line = (this.rows[this.row] ?? '').padEnd(this.col);
        this.rows[this.row] = line.slice(0, this.col) + c + line.slice(this.col + 1);
        this.col += 1;
      }
    }
  }

  private newRow(): void {
    this.row += 1;
    this.col = 0;
    if (this.rows.length <= this.row) this.rows.push('');
  }

  screen(): string[] {
    return this.rows.map((line) => line.trimEnd());
  }
}

const MiB = 1024 * 1024;

function sources(localBytes: number, peerBytes: number): WorkerStats[] {
  const stats = (label: string, kind: 'local' | 'peer', bytes: number): WorkerStats => ({
    source: kind === 'local' ? 'local' : `peer:${label}`,
    label,
    kind,
    bytes,
    rateBps: 3 * MiB,
    active: 2,
    failures: 0,
    dropped: false,
  });
  return [
    stats('local', 'local', localBytes),
    stats('peer-1', 'peer', peerBytes),
    stats('peer-2', 'peer', peerBytes),
  ];
}

describe('the progress bar on a terminal', () => {
  test('notices print above the live bar and the summary below it, within 80 columns', async () => {
    const terminal = new FakeTerminal(80);
    const render = humanRenderer(terminal as unknown as NodeJS.WriteStream);
    const size = 1536 * MiB;
    const output = '/data/big.iso';
    render.onEvent({
      type: 'start',
      url: 'http://o/x',
      finalUrl: 'http://o/x',
      output,
      size,
      mode: 'segmented',
      resumedBytes: 0,
      connections: 12,
    });
    const progress = (doneBytes: number) =>
      render.onEvent({
        type: 'progress',
        doneBytes,
        size,
        rateBps: 9 * MiB,
        etaSec: 83,
        active: 12,
        sources: sources(doneBytes / 2, doneBytes / 4),
      });
    progress(100 * MiB);
    render.onEvent({ type: 'peer', source: 'peer:1', label: 'peer-1', status: 'accepted' });
    render.onEvent({ type: 'peer', source: 'peer:2', label: 'peer-2', status: 'accepted' });
    await delay(PROGRESS_REDRAW_INTERVAL_MS + 20);
    progress(700 * MiB);
    const live = terminal.screen();
    assert.equal(live[0], `ddm: ${output} (1.5 GiB, 12 workers)`);
    assert.deepEqual(live.slice(1, 3), ['ddm: peer peer-1 accepted', 'ddm: peer peer-2 accepted']);
    assert.match(live[3]!, /45% \| .*ETA 1m ?23s/);
    render.onEvent({
      type: 'done',
      output,
      size,
      elapsedMs: 170_000,
      rateBps: 9 * MiB,
      fetchedBytes: size,
      sources: sources(size / 2, size / 4),
    });
    const final = terminal.screen();
    assert.deepEqual(final.slice(0, 3), live.slice(0, 3), 'the notices stay where they were');
    assert.match(final[3]!, /^ddm: done: /);
    assert.equal(final[4], 'ddm: fetched by:');
    assert.match(final[5]!, /^ {2}local +768\.0 MiB +50\.0%$/);
    assert.match(final[6]!, /^ {2}peer-1 +384\.0 MiB +25\.0%$/);
    assert.equal(terminal.wraps, 0, 'no line wider than the terminal');
  });

  test('at 80 columns the bar keeps its ETA and drops the peers first', () => {
    const line = barLine(
      {
        fraction: 0.45,
        done: '700.0 MiB / 1.5 GiB',
        rate: '9.0 MiB/s',
        eta: '1m 23s',
        active: 12,
        peers: ['local 3.0 MiB/s', 'peer-1 3.0 MiB/s', 'peer-2 3.0 MiB/s'],
      },
      80,
    );
    assert.ok(line.length <= 79, `${line.length}: ${line}`);
    assert.match(line, /45% \| 700\.0 MiB \/ 1\.5 GiB \| 9\.0 MiB\/s \| ETA 1m 23s/);
    assert.doesNotMatch(line, /peer-1/);
    const wide = barLine(
      { fraction: 0.45, done: 'x', rate: 'y', eta: 'z', active: 1, peers: ['peer-1 3 MiB/s'] },
      200,
    );
    assert.match(wide, /peer-1/);
    const narrow = barLine(
      {
        fraction: 0.45,
        done: '700.0 MiB / 1.5 GiB',
        rate: '9.0 MiB/s',
        eta: '1m 23s',
        active: 12,
        peers: [],
      },
      40,
    );
    assert.ok(narrow.length <= 39, narrow);
    assert.match(narrow, /45% .*ETA 1m 23s/);
  });
});
