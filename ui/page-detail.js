// One download: its figures, the live piece map coloured per source with a legend, the sources
// table, speed over time, its events in words, and the `ddm get` command that does the same.
import { useEffect, useState } from 'preact/hooks';
import {
  canChangeLink,
  canPause,
  canResume,
  canRetry,
  changeLink,
  pause,
  remove,
  resume,
  retry,
} from './actions.js';
import {
  EmptyState,
  Field,
  Legend,
  Notice,
  PieceMap,
  ProgressBar,
  SpeedChart,
  StateBadge,
  sourceColors,
  sourceLabel,
} from './components.js';
import { formatBytes, formatDuration, formatSpeed, formatTime } from './format.js';
import { html } from './html.js';
import { describe } from './store.js';

const MAP_REFRESH_MS = 1000;
const EVENTS_SHOWN = 50;

export function DetailPage({ store, state, gid, navigate }) {
  const download = state.downloads.find((candidate) => candidate.id === gid);
  const live = usePolled(store, gid, state.connection === 'open');
  const preview = usePreviewPath(store, gid, state.connection === 'open');
  const [problem, setProblem] = useState(null);
  if (!download) {
    return html`<section class="page">
      <${EmptyState} title=${state.loaded ? 'No such download' : 'Loading…'}>
        ${state.loaded ? html`It may have been removed. <a href="#/">Back to the downloads</a>.` : null}
      <//>
    </section>`;
  }
  const { name, eta, helpers, progress } = describe(download);
  const act = (action, after) => async () => {
    setProblem(null);
    try {
      await action(store.rpc, download);
      await store.refresh();
      after?.();
    } catch (error) {
      setProblem(error.message);
    }
  };
  const sources = live.sources ?? download.sources ?? [];
  const mapSources = mergeSources(live.map?.sources ?? [], sources);
  const colors = sourceColors(mapSources);
  const shareTotal = sources.reduce((sum, source) => sum + (source.bytes ?? 0), 0);

  return html`<section class="page">
    <nav class="breadcrumb" aria-label="Breadcrumb"><a href="#/">Downloads</a> <span aria-hidden="true">/</span></nav>
    <header class="page-header">
      <div class="title-block">
        <h1 class="break">${name}</h1>
        <p class="muted break">${download.url}</p>
      </div>
      <div class="header-actions">
        ${
          preview && download.state !== 'error'
            ? html`<a class="button" href=${preview} target="_blank" rel="noopener" title="Opens the file in a new tab (or copy the link into a media player); parts not downloaded yet are fetched first">${download.state === 'complete' ? 'Open' : 'Open while downloading'}</a>`
            : null
        }
        ${canPause(download) ? html`<button class="button" onClick=${act(pause)}>Pause</button>` : null}
        ${canResume(download) ? html`<button class="button" onClick=${act(resume)}>Resume</button>` : null}
        ${canRetry(download) ? html`<button class="button" onClick=${act(retry, () => navigate('#/'))}>Retry</button>` : null}
        <button class="button ghost" onClick=${act(remove, () => navigate('#/'))}>Remove</button>
      </div>
    </header>
    ${problem ? html`<${Notice} kind="error">${problem}<//>` : null}
    ${
      canChangeLink(download)
        ? html`<${NewLinkForm} store=${store} download=${download} />`
        : download.error
          ? html`<${Notice} kind="error">${download.error.message} (${download.error.code})<//>`
          : null
    }

    <div class="stats">
      <div class="stat"><span class="stat-label">State</span><${StateBadge} state=${download.state} /></div>
      <div class="stat"><span class="stat-label">Done</span><span class="stat-value">${Math.floor(progress * 100)} %</span></div>
      <div class="stat">
        <span class="stat-label">Size</span><span class="stat-value">${formatBytes(download.totalBytes)}</span>
      </div>
      <div class="stat"><span class="stat-label">Speed</span><span class="stat-value">${formatSpeed(download.speedBps)}</span></div>
      <div class="stat"><span class="stat-label">Time left</span><span class="stat-value">${formatDuration(eta)}</span></div>
      <div class="stat"><span class="stat-label">Helpers</span><span class="stat-value">${helpers}</span></div>
    </div>
    <${ProgressBar} value=${progress} state=${download.state} label="Progress" />

    <section class="card" aria-labelledby="map-title">
      <h2 id="map-title">Piece map</h2>
      <p class="muted">Each square is a part of the file, coloured by who delivered it.</p>
      <${PieceMap} map=${live.map ?? { totalLength: download.totalBytes ?? 0, pieces: download.pieces ?? [] }} colors=${colors} />
      <${Legend} sources=${mapSources} colors=${colors} total=${shareTotal} />
    </section>

    <div class="two-columns">
      <section class="card" aria-labelledby="sources-title">
        <h2 id="sources-title">Sources</h2>
        <${SourcesTable} sources=${sources} colors=${colors} total=${shareTotal} />
      </section>
      <section class="card" aria-labelledby="speed-title">
        <h2 id="speed-title">Speed</h2>
        <${SpeedChart} samples=${state.speeds.get(gid)} />
      </section>
    </div>

    <section class="card" aria-labelledby="command-title">
      <h2 id="command-title">Same download from the command line</h2>
      <${CommandLine} command=${live.command} />
    </section>

    <section class="card" aria-labelledby="events-title">
      <h2 id="events-title">Events</h2>
      <${Events} events=${live.events} />
    </section>
  </section>`;
}

/**
 * "Paste a new link": the link expired (signed URLs do), every byte is kept. The daemon checks
 * that the new link is the same file before it goes on; a refusal is shown under the field and
 * the download stays as it was.
 */
function NewLinkForm({ store, download }) {
  const [url, setUrl] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const link = url.trim();
    if (!/^https?:\/\/\S+$/i.test(link)) {
      setError('Paste an http:// or https:// address.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await changeLink(store.rpc, download, link);
      setUrl('');
      await store.refresh();
    } catch (failure) {
      setError(failure.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card relink" aria-labelledby="relink-title">
    <h2 id="relink-title">The link has expired</h2>
    <p class="muted">
      The server no longer accepts this download’s link (signed links stop working after a while).
      Everything downloaded so far is kept: paste a new link to the same file and the download goes on
      from there.
    </p>
    <form class="relink-form" onSubmit=${submit} novalidate>
      <${Field} id="relink-url" label="New link" error=${error}>
        <input
          id="relink-url"
          type="text"
          inputmode="url"
          value=${url}
          onInput=${(event) => setUrl(event.currentTarget.value)}
          placeholder="https://…"
          spellcheck="false"
          autocomplete="off"
          aria-invalid=${error ? 'true' : 'false'}
        />
      <//>
      <div class="form-actions">
        <button class="button primary" type="submit" disabled=${busy}>${busy ? 'Checking…' : 'Use this link'}</button>
      </div>
    </form>
  </section>`;
}

/** The download's preview address (stable for the download): fetched once per page. */
function usePreviewPath(store, gid, connected) {
  const [path, setPath] = useState(null);
  useEffect(() => {
    if (!connected) return undefined;
    let stopped = false;
    store.rpc.call('ddm.getPreviewUrl', [gid]).then(
      (answer) => {
        if (!stopped) setPath(answer.path);
      },
      () => {},
    );
    return () => {
      stopped = true;
    };
  }, [store, gid, connected]);
  return path;
}

/** The piece map, sources and events of one download, fetched again every second while shown. */
function usePolled(store, gid, connected) {
  const [live, setLive] = useState({});
  useEffect(() => {
    if (!connected) return undefined;
    let stopped = false;
    const load = async () => {
      const [map, sources, events, command] = await Promise.allSettled([
        store.rpc.call('ddm.getPieceMap', [gid]),
        store.rpc.call('ddm.getSources', [gid]),
        store.rpc.call('ddm.getEvents', [gid]),
        store.rpc.call('ddm.getCommandLine', [gid]),
      ]);
      if (stopped) return;
      const value = (result) => (result.status === 'fulfilled' ? result.value : undefined);
      setLive({ map: value(map), sources: value(sources), events: value(events), command: value(command) });
    };
    void load();
    const timer = setInterval(load, MAP_REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [store, gid, connected]);
  return live;
}

/** The map's sources with the bytes the sources table knows, so the legend can say how much each gave. */
function mergeSources(mapSources, statusSources) {
  const byId = new Map(statusSources.map((source) => [source.id, source]));
  const merged = mapSources.map((source) => ({ ...source, bytes: byId.get(source.id)?.bytes }));
  for (const source of statusSources)
    if (!merged.some((known) => known.id === source.id)) merged.push(source);
  return merged;
}

function SourcesTable({ sources, colors, total }) {
  if (sources.length === 0) return html`<p class="muted">No source has delivered yet.</p>`;
  return html`<div class="table-wrap stacking">
    <table>
      <thead>
        <tr><th scope="col">Source</th><th scope="col">State</th><th scope="col" class="num">Rate</th><th scope="col" class="num">Bytes</th><th scope="col" class="num">Share</th></tr>
      </thead>
      <tbody>
        ${sources.map(
          (source) => html`<tr key=${source.id}>
            <td data-label="Source">
              <span class="swatch" style=${`background: ${colors.get(source.id) ?? 'gray'}`} aria-hidden="true"></span>
              ${sourceLabel(source)}
            </td>
            <td data-label="State">
              <${StateBadge} state=${source.state} />
              ${source.reason || source.lastError ? html`<div class="muted small">${source.reason ?? source.lastError}</div>` : null}
            </td>
            <td data-label="Rate" class="num">${source.state === 'active' ? formatSpeed(source.rateBps) : '—'}</td>
            <td data-label="Bytes" class="num">${formatBytes(source.bytes)}</td>
            <td data-label="Share" class="num">${total ? `${Math.round(((source.bytes ?? 0) / total) * 100)} %` : '—'}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function CommandLine({ command }) {
  const [copied, setCopied] = useState(false);
  if (!command) return html`<p class="muted">…</p>`;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(command);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      setCopied(false);
    }
  };
  return html`<div class="command">
    <code class="command-text" tabindex="0">${command}</code>
    <button class="button" onClick=${copy}>${copied ? 'Copied' : 'Copy'}</button>
  </div>`;
}

function Events({ events }) {
  if (!events) return html`<p class="muted">…</p>`;
  if (events.length === 0) return html`<p class="muted">Nothing has happened yet.</p>`;
  const shown = events.slice(-EVENTS_SHOWN).reverse();
  return html`<ol class="events">
    ${shown.map(
      (event, index) => html`<li key=${`${event.time}-${index}`}>
        <time class="muted">${formatTime(event.time)}</time>
        <span>${event.text}</span>
      </li>`,
    )}
  </ol>`;
}
