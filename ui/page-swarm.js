// The swarm: this machine's own helper role (on/off, how it accepts, slots, upload limit, whom
// it serves) and the helpers this machine knows.
import { useEffect, useState } from 'preact/hooks';
import { describedBy, EmptyState, Field, Notice, StateBadge } from './components.js';
import { formatAgo, formatBytes, formatSpeed, parseSize, sizeInput } from './format.js';
import { html } from './html.js';

const SWARM_REFRESH_MS = 3000;
const FOUND_BY_WORDS = { tracker: 'tracker', lan: 'LAN', static: '--peer' };

export function SwarmPage({ store, state }) {
  const [swarm, setSwarm] = useState(null);
  const [role, setRole] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    if (state.connection !== 'open') return undefined;
    let stopped = false;
    const load = async () => {
      try {
        const [peers, status] = await Promise.all([
          store.rpc.call('ddm.getSwarm'),
          store.rpc.call('ddm.getHelperRole'),
        ]);
        if (stopped) return;
        setSwarm(peers);
        setRole(status);
        setProblem(null);
      } catch (error) {
        if (!stopped) setProblem(error.message);
      }
    };
    void load();
    const timer = setInterval(load, SWARM_REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [store, state.connection]);

  return html`<section class="page">
    <header class="page-header"><h1>Swarm</h1></header>
    ${problem ? html`<${Notice} kind="error">${problem}<//>` : null}
    ${role ? html`<${HelperRoleCard} store=${store} role=${role} onChange=${setRole} />` : null}
    <section class="card" aria-labelledby="known-title">
      <h2 id="known-title">Helpers this machine knows</h2>
      ${swarm === null ? html`<p class="muted">…</p>` : html`<${KnownPeers} peers=${swarm} />`}
    </section>
  </section>`;
}

function HelperRoleCard({ store, role, onChange }) {
  const [draft, setDraft] = useState(null);
  const [errors, setErrors] = useState({});
  const [saved, setSaved] = useState(false);
  const form = draft ?? {
    enabled: role.enabled,
    accept: role.accept,
    slots: String(role.slots),
    maxUpload: sizeInput(role.maxUpload),
  };
  const edit = (changes) => {
    setDraft({ ...form, ...changes });
    setSaved(false);
  };
  const save = async (event) => {
    event.preventDefault();
    const found = {};
    const slots = Number(form.slots);
    if (!Number.isInteger(slots) || slots < 1) found.slots = 'Slots must be a whole number, 1 or more.';
    const maxUpload = parseSize(form.maxUpload);
    if (maxUpload === null) found.maxUpload = 'Write a speed like 500K or 2M, or 0 for none.';
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    try {
      onChange(
        await store.rpc.call('ddm.changeHelperRole', [
          { enabled: form.enabled, accept: form.accept, slots, maxUpload },
        ]),
      );
      setDraft(null);
      setSaved(true);
    } catch (error) {
      setErrors({ [error.key in form ? error.key : 'form']: error.message });
    }
  };
  return html`<section class="card" aria-labelledby="role-title">
    <div class="card-header">
      <h2 id="role-title">This machine as a helper</h2>
      <${StateBadge} state=${role.enabled ? 'on' : 'off'} />
    </div>
    <p class="muted">
      ${
        role.enabled
          ? html`Reachable at <code>${role.url ?? '…'}</code> as <strong>${role.name}</strong>; ${role.freeSlots} of ${role.slots} slots free; ${formatBytes(role.bytesContributed)} given since the daemon started.`
          : 'Off: this machine downloads for itself only.'
      }
    </p>
    <form class="form" onSubmit=${save}>
      ${errors.form ? html`<${Notice} kind="error">${errors.form}<//>` : null}
      <label class="check"><input type="checkbox" id="role-enabled" checked=${form.enabled} onChange=${(e) => edit({ enabled: e.currentTarget.checked })} /> Help other machines download</label>
      <div class="field-row three">
        <${Field} id="role-accept" label="Accept requests" error=${errors.accept}>
          <select id="role-accept" value=${form.accept} onChange=${(e) => edit({ accept: e.currentTarget.value })}>
            <option value="auto">Automatically</option>
            <option value="ask">Ask me each time</option>
            <option value="never">Never</option>
          </select>
        <//>
        <${Field} id="role-slots" label="Slots" hint="Downloads helped at once." error=${errors.slots}>
          <input id="role-slots" type="number" min="1" value=${form.slots} onInput=${(e) => edit({ slots: e.currentTarget.value })} ...${describedBy('role-slots', errors.slots, true)} />
        <//>
        <${Field} id="role-maxUpload" label="Upload limit" hint="Like 2M per second; 0 for none." error=${errors.maxUpload}>
          <input id="role-maxUpload" type="text" value=${form.maxUpload} onInput=${(e) => edit({ maxUpload: e.currentTarget.value })} ...${describedBy('role-maxUpload', errors.maxUpload, true)} />
        <//>
      </div>
      <div class="form-actions">
        <button class="button primary" type="submit" disabled=${draft === null}>Save helper settings</button>
        ${saved ? html`<span class="saved" role="status">Saved</span>` : null}
      </div>
    </form>
    <h3>Serving now</h3>
    ${
      role.serving.length === 0
        ? html`<p class="muted">Nobody is being helped right now.</p>`
        : html`<div class="table-wrap stacking"><table>
            <thead><tr><th scope="col">For</th><th scope="col">File</th><th scope="col" class="num">Rate</th><th scope="col" class="num">Sent</th><th scope="col">Since</th></tr></thead>
            <tbody>
              ${role.serving.map(
                (entry) => html`<tr key=${`${entry.clientId}-${entry.file}`}>
                  <td data-label="For">${entry.clientName}<div class="muted small">${entry.address}</div></td>
                  <td data-label="File" class="break">${entry.file}<div class="muted small">${entry.host}</div></td>
                  <td data-label="Rate" class="num">${formatSpeed(entry.speed)}</td>
                  <td data-label="Sent" class="num">${formatBytes(entry.bytes)}</td>
                  <td data-label="Since">${formatAgo(entry.since)}</td>
                </tr>`,
              )}
            </tbody>
          </table></div>`
    }
  </section>`;
}

function KnownPeers({ peers }) {
  if (peers.length === 0) {
    return html`<${EmptyState} title="No helpers known yet">
      Give a tracker or a peer in Settings, or turn on LAN discovery with a swarm secret.
    <//>`;
  }
  return html`<div class="table-wrap stacking"><table>
    <thead>
      <tr><th scope="col">Name</th><th scope="col">Found by</th><th scope="col" class="num">Slots</th><th scope="col">Version</th><th scope="col">Last seen</th><th scope="col">Trust</th></tr>
    </thead>
    <tbody>
      ${peers.map(
        (peer) => html`<tr key=${peer.id}>
          <td data-label="Name">${peer.name}<div class="muted small break">${peer.url}</div></td>
          <td data-label="Found by">${peer.foundBy.length ? peer.foundBy.map((way) => FOUND_BY_WORDS[way] ?? way).join(', ') : '—'}</td>
          <td data-label="Slots" class="num">${peer.slots === null ? '—' : `${peer.freeSlots ?? '?'} / ${peer.slots}`}</td>
          <td data-label="Version">${peer.version ?? '—'}</td>
          <td data-label="Last seen">${formatAgo(peer.lastSeen)}</td>
          <td data-label="Trust"><${StateBadge} state=${peer.trust} />${peer.lastError ? html`<div class="muted small">${peer.lastError}</div>` : null}</td>
        </tr>`,
      )}
    </tbody>
  </table></div>`;
}
