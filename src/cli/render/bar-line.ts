/**
 * The progress line of `ddm get`, fitted to the terminal's width: what matters most (percentage,
 * ETA, speed) stays, what matters least (each peer's rate, connections, bytes) goes first, and the
 * bar shrinks before anything is dropped.
 */
export interface BarState {
  /** 0..1 */
  fraction: number;
  done: string;
  rate: string;
  eta: string;
  active: number;
  /** "name rate" per peer; empty without peers. */
  peers: readonly string[];
}

const MAX_BAR_CELLS = 30;
const MIN_BAR_CELLS = 10;
const SEPARATOR = ' | ';

/** One line of at most `columns - 1` characters (the last column would wrap on some terminals). */
export function barLine(state: BarState, columns: number): string {
  const width = Math.max(1, columns - 1);
  const percent = `${Math.floor(Math.min(1, Math.max(0, state.fraction)) * 100)}%`;
  // In the order shown; dropped from the end of `dropOrder` first.
  const parts: Record<string, string> = {
    done: state.done,
    rate: state.rate,
    eta: `ETA ${state.eta}`,
    conns: `${state.active} conns`,
    peers: state.peers.join(', '),
  };
  const shown = ['done', 'rate', 'eta', 'conns', ...(state.peers.length > 0 ? ['peers'] : [])];
  const dropOrder = ['peers', 'conns', 'done', 'rate'];
  for (;;) {
    const text = [percent, ...shown.map((key) => parts[key])].join(SEPARATOR);
    const cells = Math.min(MAX_BAR_CELLS, width - text.length - 2);
    const next = dropOrder.find((key) => shown.includes(key));
    if (cells >= MIN_BAR_CELLS || next === undefined) {
      if (cells < 1) return text.slice(0, width);
      return `${bar(state.fraction, cells)} ${text}`.slice(0, width);
    }
    shown.splice(shown.indexOf(next), 1);
  }
}

function bar(fraction: number, cells: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * cells);
  return ` ${'█'.repeat(filled)}${'░'.repeat(cells - filled)}`;
}
