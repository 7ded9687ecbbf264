// Small pieces every page uses: progress bars, the piece map, the speed chart, state badges,
// form fields with their error in words.
import { formatBytes, formatSpeed } from './format.js';
import { html } from './html.js';

/** One colour per source; the same source keeps its colour on every page (see sourceColors). */
export const SOURCE_PALETTE = [
  '#3b82f6',
  '#f59e0b',
  '#10b981',
  '#a855f7',
  '#ef4444',
  '#06b6d4',
  '#ec4899',
  '#84cc16',
];

/** source id → colour: this machine first, then helpers in the order the map lists them. */
export function sourceColors(sources) {
  const ordered = [...sources].sort((a, b) => (a.kind === 'local' ? -1 : 0) - (b.kind === 'local' ? -1 : 0));
  return new Map(ordered.map((source, index) => [source.id, SOURCE_PALETTE[index % SOURCE_PALETTE.length]]));
}

/** The engine calls this machine's connections `local`; people call it this machine. */
export function sourceLabel(source) {
  return source.kind === 'local' && source.label === 'local' ? 'This machine' : source.label;
}

export function ProgressBar({ value, state, label }) {
  const percent = Math.max(0, Math.min(100, value * 100));
  return html`<div
    class=${`progress progress-${state}`}
    role="progressbar"
    aria-label=${label}
    aria-valuemin="0"
    aria-valuemax="100"
    aria-valuenow=${Math.round(percent)}
  >
    <div class="progress-fill" style=${`width: ${percent}%`}></div>
  </div>`;
}

const STATE_WORDS = {
  active: 'Downloading',
  waiting: 'Waiting',
  paused: 'Paused',
  expired: 'Link expired',
  complete: 'Finished',
  error: 'Failed',
  removed: 'Removed',
  asking: 'Asking',
  accepted: 'Accepted',
  idle: 'Idle',
  refused: 'Refused',
  dropped: 'Dropped',
  trusted: 'Trusted',
  unknown: 'Not checked',
  on: 'On',
  off: 'Off',
};

export function StateBadge({ state }) {
  return html`<span class=${`badge badge-${state}`}>${STATE_WORDS[state] ?? state}</span>`;
}

/** Cells of the piece map: 64 columns of 8 rows on a wide screen, 32 of 16 on a phone (style.css). */
const MAP_CELLS = 512;

/**
 * The whole file as a grid of cells, each coloured by the source that delivered most of its
 * bytes; a partly delivered cell is paler. `pieces` are [{start, end, source}], end exclusive.
 */
export function PieceMap({ map, colors }) {
  const total = map?.totalLength ?? 0;
  const owners = Array.from({ length: MAP_CELLS }, () => new Map());
  const cellBytes = total / MAP_CELLS;
  if (total > 0) {
    for (const piece of map.pieces) {
      const first = Math.floor(piece.start / cellBytes);
      const last = Math.min(MAP_CELLS - 1, Math.floor((piece.end - 1) / cellBytes));
      for (let cell = first; cell <= last; cell++) {
        const overlap = Math.min(piece.end, (cell + 1) * cellBytes) - Math.max(piece.start, cell * cellBytes);
        if (overlap > 0) owners[cell].set(piece.source, (owners[cell].get(piece.source) ?? 0) + overlap);
      }
    }
  }
  const cells = owners.map((byOwner) => {
    let owner;
    let covered = 0;
    let most = 0;
    for (const [source, bytes] of byOwner) {
      covered += bytes;
      if (bytes > most) {
        most = bytes;
        owner = source;
      }
    }
    if (!owner) return html`<span class="cell"></span>`;
    const partial = covered < cellBytes * 0.99;
    return html`<span
      class=${`cell${partial ? ' cell-partial' : ''}`}
      style=${`background-color: ${colors.get(owner) ?? 'gray'}`}
      data-source=${owner}
    ></span>`;
  });
  return html`<div class="piece-map" role="img" aria-label="Piece map: which source delivered each part of the file">
    ${cells}
  </div>`;
}

export function Legend({ sources, colors, total }) {
  return html`<ul class="legend">
    ${sources.map(
      (source) => html`<li key=${source.id}>
        <span class="swatch" style=${`background: ${colors.get(source.id)}`} aria-hidden="true"></span>
        <span class="legend-label">${sourceLabel(source)}</span>
        ${total ? html`<span class="muted">${formatBytes(source.bytes ?? 0)}</span>` : null}
      </li>`,
    )}
    <li><span class="swatch swatch-empty" aria-hidden="true"></span><span class="legend-label">Not yet downloaded</span></li>
  </ul>`;
}

/** Speed over the last minutes, as an area chart scaled to its peak. */
export function SpeedChart({ samples }) {
  const width = 600;
  const height = 120;
  if (!samples || samples.length < 2) {
    return html`<div class="chart-empty muted">The chart fills in while the download runs.</div>`;
  }
  const peak = Math.max(...samples.map((sample) => sample.speed), 1);
  const start = samples[0].time;
  const span = Math.max(samples[samples.length - 1].time - start, 1);
  const points = samples.map(
    (sample) => `${((sample.time - start) / span) * width},${height - (sample.speed / peak) * (height - 8)}`,
  );
  const line = `M${points.join(' L')}`;
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label="Download speed over time">
      <path d=${`${line} L${width},${height} L0,${height} Z`} class="chart-area" />
      <path d=${line} class="chart-line" vector-effect="non-scaling-stroke" />
    </svg>
    <figcaption class="muted">
      <span>Peak ${formatSpeed(peak)}</span><span>Now ${formatSpeed(samples[samples.length - 1].speed)}</span>
    </figcaption>
  </figure>`;
}

/** A labelled control with its hint and, when the daemon refused the value, why. */
export function Field({ id, label, hint, error, children }) {
  return html`<div class=${`field${error ? ' field-invalid' : ''}`}>
    <label for=${id}>${label}</label>
    ${children}
    ${hint && !error ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
    ${error ? html`<p class="field-error" id=${`${id}-error`} role="alert">${sentence(error)}</p>` : null}
  </div>`;
}

/** The daemon's messages start with the key they name, in lower case; under a field they start a sentence. */
function sentence(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** aria attributes that tie a control to its hint or error. */
export function describedBy(id, error, hint) {
  if (error) return { 'aria-describedby': `${id}-error`, 'aria-invalid': 'true' };
  return hint ? { 'aria-describedby': `${id}-hint` } : {};
}

export function EmptyState({ title, children }) {
  return html`<div class="empty">
    <p class="empty-title">${title}</p>
    <p class="muted">${children}</p>
  </div>`;
}

export function Notice({ kind = 'info', children }) {
  return html`<div class=${`notice notice-${kind}`} role=${kind === 'error' ? 'alert' : 'status'}>${children}</div>`;
}
