// Adding downloads: one address per line of the URL field, with the options a person changes
// most; the daemon checks them, and a refused value is explained next to its field.
import { useState } from 'preact/hooks';
import { describedBy, Field, Notice } from './components.js';
import { parseSize } from './format.js';
import { html } from './html.js';

const EMPTY = {
  url: '',
  output: '',
  dir: '',
  checksum: '',
  connections: '',
  maxSpeed: '',
  helpers: true,
  paused: false,
};

export function AddPage({ store, navigate }) {
  const [form, setForm] = useState(EMPTY);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);
  const bind = (key) => ({
    id: `add-${key}`,
    value: form[key],
    onInput: (event) => setForm({ ...form, [key]: event.currentTarget.value }),
    ...describedBy(`add-${key}`, errors[key]),
  });
  const check = (key) => ({
    id: `add-${key}`,
    checked: form[key],
    onChange: (event) => setForm({ ...form, [key]: event.currentTarget.checked }),
  });

  const submit = async (event) => {
    event.preventDefault();
    const { request, found } = toRequest(form);
    setErrors(found);
    setProblem(null);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      // Added paused, so it never starts for a moment before a pause arrives.
      const gids = await store.rpc.call('ddm.add', [{ ...request, paused: form.paused }]);
      await store.refresh();
      setForm(EMPTY);
      navigate(gids.length === 1 ? `#/downloads/${gids[0]}` : '#/');
    } catch (error) {
      const key = fieldOf(error.key);
      if (key) setErrors({ [key]: error.message });
      else setProblem(error.message);
    } finally {
      setBusy(false);
    }
  };

  return html`<section class="page page-narrow">
    <header class="page-header"><h1>Add a download</h1></header>
    ${problem ? html`<${Notice} kind="error">${problem}<//>` : null}
    <form class="card form" onSubmit=${submit} novalidate>
      <${Field} id="add-url" label="URL" hint="One address per line; each line is one download." error=${errors.url}>
        <textarea
          ...${bind('url')}
          rows="3"
          placeholder="https://example.com/big-file.iso"
          spellcheck="false"
          autocomplete="off"
          required
        ></textarea>
      <//>
      <div class="field-row">
        <${Field} id="add-output" label="Output name" hint="Leave empty to use the server's name." error=${errors.output}>
          <input ...${bind('output')} type="text" autocomplete="off" />
        <//>
        <${Field} id="add-dir" label="Folder" hint="Leave empty for the daemon's folder." error=${errors.dir}>
          <input ...${bind('dir')} type="text" autocomplete="off" />
        <//>
      </div>
      <${Field} id="add-checksum" label="Checksum" hint="For example sha-256=9f86d08…; checked when done." error=${errors.checksum}>
        <input ...${bind('checksum')} type="text" autocomplete="off" spellcheck="false" />
      <//>
      <div class="field-row">
        <${Field} id="add-connections" label="Connections" hint="Default: the daemon's setting." error=${errors.connections}>
          <input ...${bind('connections')} type="number" min="1" inputmode="numeric" />
        <//>
        <${Field} id="add-maxSpeed" label="Speed limit" hint="Like 500K or 2M per second; empty for none." error=${errors.maxSpeed}>
          <input ...${bind('maxSpeed')} type="text" autocomplete="off" />
        <//>
      </div>
      <div class="checks">
        <label class="check"><input type="checkbox" ...${check('helpers')} /> Use helpers</label>
        <label class="check"><input type="checkbox" ...${check('paused')} /> Start paused</label>
      </div>
      <div class="form-actions">
        <button class="button primary" type="submit" disabled=${busy}>${busy ? 'Adding…' : 'Download'}</button>
        <a class="button ghost" href="#/">Cancel</a>
      </div>
    </form>
  </section>`;
}

/** The form as ddm.add's request, or the fields that cannot be sent, in words. */
function toRequest(form) {
  const found = {};
  const urls = form.url
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  if (urls.length === 0) found.url = 'Enter the address of the file to download.';
  for (const url of urls) {
    if (!/^https?:\/\/\S+$/i.test(url)) found.url = `“${url}” is not an http:// or https:// address.`;
  }
  if (urls.length > 1 && form.output.trim()) found.output = 'An output name fits one address only.';
  const request = { urls, helpers: form.helpers };
  for (const key of ['output', 'dir', 'checksum']) if (form[key].trim()) request[key] = form[key].trim();
  if (form.connections.trim()) {
    const connections = Number(form.connections);
    if (!Number.isInteger(connections) || connections < 1)
      found.connections = 'Connections must be a whole number, 1 or more.';
    else request.connections = connections;
  }
  if (form.maxSpeed.trim()) {
    const speed = parseSize(form.maxSpeed);
    if (speed === null) found.maxSpeed = 'Write a speed like 500K or 2M.';
    else request.maxSpeed = speed;
  }
  return { request, found };
}

/** A key the daemon names in its error → the field that shows it. */
function fieldOf(key) {
  if (!key) return undefined;
  if (key === 'urls') return 'url';
  return ['url', 'output', 'dir', 'checksum', 'connections', 'maxSpeed'].includes(key) ? key : undefined;
}
