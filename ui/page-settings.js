// The daemon's settings: saved by the daemon in its session, so they outlive a restart. The
// swarm secret is write-only: the page says whether one is set, and shows a generated one once.
import { useEffect, useState } from 'preact/hooks';
import { describedBy, Field, Notice } from './components.js';
import { parseSize, sizeInput } from './format.js';
import { html } from './html.js';

const NUMBER_KEYS = ['maxActive', 'connections', 'maxConnections'];
const SPEED_KEYS = ['maxSpeed', 'maxOverallSpeed'];
const LIST_KEYS = ['trackers', 'peers', 'tlsFingerprints'];

export function SettingsPage({ store, state }) {
  const [settings, setSettings] = useState(null);
  const [form, setForm] = useState(null);
  const [errors, setErrors] = useState({});
  const [status, setStatus] = useState(null);
  const [secret, setSecret] = useState('');
  const [generated, setGenerated] = useState(null);

  useEffect(() => {
    if (state.connection !== 'open') return;
    store.rpc
      .call('ddm.getSettings')
      .then((loaded) => {
        setSettings(loaded);
        setForm(toForm(loaded));
      })
      .catch((error) => setStatus({ kind: 'error', text: error.message }));
  }, [store, state.connection]);
  useEffect(
    () => store.rpc.on('ddm.onSettingsChanged', ([changed]) => changed && setSettings(changed)),
    [store],
  );

  if (!form)
    return html`<section class="page page-narrow"><header class="page-header"><h1>Settings</h1></header><p class="muted">…</p></section>`;

  const bind = (key, hint) => ({
    id: `set-${key}`,
    name: key,
    value: form[key],
    onInput: (event) => setForm({ ...form, [key]: event.currentTarget.value }),
    ...describedBy(`set-${key}`, errors[key], hint),
  });
  const apply = async (changes, done) => {
    setStatus(null);
    try {
      const next = await store.rpc.call('ddm.changeSettings', [changes]);
      setSettings(next);
      setForm(toForm(next));
      setErrors({});
      setStatus({ kind: 'success', text: done });
    } catch (error) {
      if (error.key && error.key in form) setErrors({ [error.key]: error.message });
      else setStatus({ kind: 'error', text: error.message });
    }
  };
  const save = (event) => {
    event.preventDefault();
    const { changes, found } = toChanges(form, settings);
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    if (secret !== '') changes.swarmSecret = secret;
    void apply(changes, 'Settings saved.').then(() => setSecret(''));
  };
  const generate = async () => {
    try {
      setGenerated(await store.rpc.call('ddm.generateSwarmSecret'));
      setSettings(await store.rpc.call('ddm.getSettings'));
    } catch (error) {
      setStatus({ kind: 'error', text: error.message });
    }
  };

  return html`<section class="page page-narrow">
    <header class="page-header"><h1>Settings</h1></header>
    <form class="form" onSubmit=${save} novalidate>
      <section class="card" aria-labelledby="downloads-title">
        <h2 id="downloads-title">Downloads</h2>
        <${Field} id="set-dir" label="Download folder" error=${errors.dir}>
          <input ...${bind('dir')} type="text" autocomplete="off" spellcheck="false" />
        <//>
        <div class="field-row three">
          <${Field} id="set-maxActive" label="Downloads at once" error=${errors.maxActive}>
            <input ...${bind('maxActive')} type="number" min="1" inputmode="numeric" />
          <//>
          <${Field} id="set-connections" label="Connections per download" error=${errors.connections}>
            <input ...${bind('connections')} type="number" min="1" inputmode="numeric" />
          <//>
          <${Field} id="set-maxConnections" label="Connections in total" error=${errors.maxConnections}>
            <input ...${bind('maxConnections')} type="number" min="1" inputmode="numeric" />
          <//>
        </div>
        <div class="field-row">
          <${Field} id="set-maxSpeed" label="Speed limit per download" hint="Like 500K or 2M per second; 0 for none." error=${errors.maxSpeed}>
            <input ...${bind('maxSpeed', true)} type="text" autocomplete="off" />
          <//>
          <${Field} id="set-maxOverallSpeed" label="Speed limit in total" hint="0 for none." error=${errors.maxOverallSpeed}>
            <input ...${bind('maxOverallSpeed', true)} type="text" autocomplete="off" />
          <//>
        </div>
      </section>

      <section class="card" aria-labelledby="swarm-title">
        <h2 id="swarm-title">Swarm</h2>
        <${Field} id="set-trackers" label="Trackers" hint="One address per line." error=${errors.trackers}>
          <textarea ...${bind('trackers', true)} rows="2" spellcheck="false"></textarea>
        <//>
        <${Field} id="set-peers" label="Peers" hint="Helpers to ask directly, one address per line." error=${errors.peers}>
          <textarea ...${bind('peers', true)} rows="2" spellcheck="false"></textarea>
        <//>
        <label class="check">
          <input type="checkbox" id="set-lanDiscovery" checked=${form.lanDiscovery} onChange=${(e) => setForm({ ...form, lanDiscovery: e.currentTarget.checked })} />
          Find helpers on the LAN
        </label>
        <${Field}
          id="set-swarmSecret"
          label="Swarm secret"
          hint=${settings.swarmSecretSet ? `Set (${settings.swarmSecretHint}). Type a new one to replace it.` : 'Not set. Machines that share it find each other on the LAN.'}
          error=${errors.swarmSecret}
        >
          <div class="input-with-button">
            <input id="set-swarmSecret" type="password" autocomplete="new-password" value=${secret} onInput=${(e) => setSecret(e.currentTarget.value)} ...${describedBy('set-swarmSecret', errors.swarmSecret, true)} />
            <button class="button" type="button" onClick=${generate}>Generate</button>
          </div>
        <//>
        ${
          generated
            ? html`<${Notice} kind="success">
                New swarm secret: <code class="secret">${generated}</code><br />
                Copy it now to the other machines; it is not shown again.
              <//>`
            : null
        }
        <${Field} id="set-tlsFingerprints" label="TLS pins" hint="SHA-256 fingerprints of trusted nodes' certificates, one per line." error=${errors.tlsFingerprints}>
          <textarea ...${bind('tlsFingerprints', true)} rows="2" spellcheck="false"></textarea>
        <//>
      </section>

      <section class="card" aria-labelledby="browser-title">
        <h2 id="browser-title">This browser</h2>
        <${NotificationSetting} />
      </section>

      <div class="form-actions sticky-actions">
        <button class="button primary" type="submit">Save settings</button>
        ${status ? html`<span class=${status.kind === 'success' ? 'saved' : 'field-error'} role="status">${status.text}</span>` : null}
      </div>
    </form>
  </section>`;
}

function NotificationSetting() {
  const supported = typeof Notification !== 'undefined';
  const [permission, setPermission] = useState(supported ? Notification.permission : 'unsupported');
  if (!supported) return html`<p class="muted">This browser cannot show notifications.</p>`;
  if (permission === 'granted')
    return html`<p>Help requests show as browser notifications while this tab is in the background.</p>`;
  if (permission === 'denied')
    return html`<p class="muted">Notifications are blocked for this page in the browser's settings.</p>`;
  return html`<p>
    <button class="button" type="button" onClick=${async () => setPermission(await Notification.requestPermission())}>
      Notify me of help requests
    </button>
  </p>`;
}

function toForm(settings) {
  const form = { dir: settings.dir, lanDiscovery: settings.lanDiscovery };
  for (const key of NUMBER_KEYS) form[key] = String(settings[key]);
  for (const key of SPEED_KEYS) form[key] = sizeInput(settings[key]);
  for (const key of LIST_KEYS) form[key] = (settings[key] ?? []).join('\n');
  return form;
}

/** Only what changed goes to the daemon, so a field it refuses is the one the user touched. */
function toChanges(form, settings) {
  const changes = {};
  const found = {};
  if (form.dir.trim() !== settings.dir) changes.dir = form.dir.trim();
  for (const key of NUMBER_KEYS) {
    const value = Number(form[key]);
    if (!Number.isInteger(value) || value < 1) found[key] = 'A whole number, 1 or more.';
    else if (value !== settings[key]) changes[key] = value;
  }
  for (const key of SPEED_KEYS) {
    const value = parseSize(form[key]);
    if (value === null) found[key] = 'Write a speed like 500K or 2M, or 0 for none.';
    else if (value !== settings[key]) changes[key] = value;
  }
  for (const key of LIST_KEYS) {
    const value = form[key]
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    if (value.join('\n') !== (settings[key] ?? []).join('\n')) changes[key] = value;
  }
  if (form.lanDiscovery !== settings.lanDiscovery) changes.lanDiscovery = form.lanDiscovery;
  return { changes, found };
}
