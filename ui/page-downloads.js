// The downloads: active, waiting and finished lists, each row with its progress and actions;
// several can be selected and acted on at once.
import { useState } from 'preact/hooks';
import { canChangeLink, canPause, canResume, canRetry, pause, remove, resume, retry } from './actions.js';
import { EmptyState, Notice, ProgressBar, StateBadge } from './components.js';
import { formatBytes, formatDuration, formatSpeed } from './format.js';
import { html } from './html.js';
import { describe } from './store.js';

const GROUPS = [
  { title: 'Active', states: ['active'] },
  { title: 'Waiting', states: ['waiting', 'paused', 'expired'] },
  { title: 'Finished', states: ['complete', 'error', 'removed'] },
];

export function DownloadsPage({ store, state }) {
  const [selected, setSelected] = useState(new Set());
  const [problem, setProblem] = useState(null);
  const downloads = state.downloads;
  const chosen = downloads.filter((download) => selected.has(download.id));

  const run = async (action, targets) => {
    setProblem(null);
    const results = await Promise.allSettled(targets.map((download) => action(store.rpc, download)));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) setProblem(failed.reason?.message ?? String(failed.reason));
    await store.refresh();
  };
  const toggle = (id) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };

  if (state.loaded && downloads.length === 0) {
    return html`<section class="page">
      <header class="page-header"><h1>Downloads</h1></header>
      <${EmptyState} title="Nothing downloaded yet">
        <a href="#/add">Add a download</a> by its address; it shows up here with its progress.
      <//>
    </section>`;
  }
  return html`<section class="page">
    <header class="page-header">
      <h1>Downloads</h1>
      <a class="button primary" href="#/add">Add download</a>
    </header>
    ${problem ? html`<${Notice} kind="error">${problem}<//>` : null}
    ${
      chosen.length > 0
        ? html`<div class="selection-bar" role="toolbar" aria-label="Selected downloads">
            <span><strong>${chosen.length}</strong> selected</span>
            <button class="button" onClick=${() => run(pause, chosen.filter(canPause))}>Pause</button>
            <button class="button" onClick=${() => run(resume, chosen.filter(canResume))}>Resume</button>
            <button class="button danger" onClick=${() => run(remove, chosen).then(() => setSelected(new Set()))}>
              Remove
            </button>
            <button class="button ghost" onClick=${() => setSelected(new Set())}>Clear selection</button>
          </div>`
        : null
    }
    ${GROUPS.map((group) => {
      const members = downloads.filter((download) => group.states.includes(download.state));
      if (members.length === 0) return null;
      const allChosen = members.every((download) => selected.has(download.id));
      const selectAll = () => {
        const next = new Set(selected);
        for (const download of members) {
          if (allChosen) next.delete(download.id);
          else next.add(download.id);
        }
        setSelected(next);
      };
      return html`<section class="group" aria-labelledby=${`group-${group.title}`}>
        <div class="group-header">
          <input
            type="checkbox"
            checked=${allChosen}
            onChange=${selectAll}
            aria-label=${`Select all ${group.title.toLowerCase()} downloads`}
          />
          <h2 id=${`group-${group.title}`}>${group.title} <span class="count">${members.length}</span></h2>
        </div>
        <ul class="download-list">
          ${members.map(
            (download) => html`<${DownloadRow}
              key=${download.id}
              download=${download}
              selected=${selected.has(download.id)}
              onToggle=${() => toggle(download.id)}
              onAction=${(action) => run(action, [download])}
            />`,
          )}
        </ul>
      </section>`;
    })}
  </section>`;
}

function DownloadRow({ download, selected, onToggle, onAction }) {
  const { name, eta, helpers, progress } = describe(download);
  const size = download.totalBytes === null ? 'size unknown' : formatBytes(download.totalBytes);
  return html`<li class=${`download-row${selected ? ' is-selected' : ''}`} data-gid=${download.id}>
    <input type="checkbox" checked=${selected} onChange=${onToggle} aria-label=${`Select ${name}`} />
    <div class="download-main">
      <div class="download-title">
        <a class="download-name" href=${`#/downloads/${download.id}`}>${name}</a>
        <${StateBadge} state=${download.state} />
      </div>
      <${ProgressBar} value=${progress} state=${download.state} label=${`${name} progress`} />
      <div class="download-meta">
        <span>${formatBytes(download.completedBytes)} of ${size}</span>
        ${download.state === 'active' ? html`<span>${formatSpeed(download.speedBps)}</span>` : null}
        ${download.state === 'active' ? html`<span>${formatDuration(eta)} left</span>` : null}
        ${helpers > 0 ? html`<span class="helpers">${helpers} ${helpers === 1 ? 'helper' : 'helpers'}</span>` : null}
        ${download.error ? html`<span class="error-text">${download.error.message}</span>` : null}
      </div>
    </div>
    <div class="row-actions">
      ${canPause(download) ? html`<button class="button" onClick=${() => onAction(pause)} aria-label=${`Pause ${name}`}>Pause</button>` : null}
      ${canResume(download) ? html`<button class="button" onClick=${() => onAction(resume)} aria-label=${`Resume ${name}`}>Resume</button>` : null}
      ${canRetry(download) ? html`<button class="button" onClick=${() => onAction(retry)} aria-label=${`Retry ${name}`}>Retry</button>` : null}
      ${canChangeLink(download) ? html`<a class="button primary" href=${`#/downloads/${download.id}`} aria-label=${`Paste a new link for ${name}`}>New link</a>` : null}
      <button class="button ghost" onClick=${() => onAction(remove)} aria-label=${`Remove ${name}`}>Remove</button>
      <a class="button ghost" href=${`#/downloads/${download.id}`} aria-label=${`Details of ${name}`}>Details</a>
    </div>
  </li>`;
}
