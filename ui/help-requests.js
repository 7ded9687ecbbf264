// Help requests, wherever the operator is in the app: who asks, for which file from which
// host, how big, with Yes / No / Always for this client and the time left before it counts as no.
import { useEffect, useState } from 'preact/hooks';
import { formatBytes, formatDuration } from './format.js';
import { html } from './html.js';

export function HelpRequests({ store, requests }) {
  const now = useNow(requests.length > 0);
  const live = requests.filter((request) => request.expiresAt > now);
  if (live.length === 0) return null;
  return html`<aside class="help-requests" aria-label="Help requests" aria-live="polite">
    ${live.map((request) => html`<${HelpRequestCard} key=${request.id} store=${store} request=${request} now=${now} />`)}
  </aside>`;
}

function HelpRequestCard({ store, request, now }) {
  const [problem, setProblem] = useState(null);
  const answer = (choice) => async () => {
    try {
      await store.rpc.call('ddm.answerHelpRequest', [request.id, choice]);
      store.forgetHelpRequest(request.id);
    } catch (error) {
      setProblem(error.message);
    }
  };
  const left = Math.max(0, (request.expiresAt - now) / 1000);
  const total = Math.max(1, (request.expiresAt - request.askedAt) / 1000);
  const titleId = `help-${request.id}`;
  return html`<section class="help-card" role="alertdialog" aria-labelledby=${titleId} data-request=${request.id}>
    <p class="help-kicker">Help request</p>
    <h2 id=${titleId}>Can you help <strong>${request.clientName || 'a machine'}</strong> download?</h2>
    <dl class="help-facts">
      <dt>From</dt><dd>${request.clientName} <span class="muted">(${request.address})</span></dd>
      <dt>File</dt><dd class="break">${request.file}</dd>
      <dt>Host</dt><dd class="break">${request.host}</dd>
      <dt>Size</dt><dd>${request.size === null ? 'unknown' : formatBytes(request.size)}</dd>
    </dl>
    <div class="countdown" aria-hidden="true"><div style=${`width: ${(left / total) * 100}%`}></div></div>
    <p class="muted small">Counts as no in ${formatDuration(left)}.</p>
    ${problem ? html`<p class="field-error" role="alert">${problem}</p>` : null}
    <div class="help-actions">
      <button class="button primary" onClick=${answer('yes')}>Yes</button>
      <button class="button" onClick=${answer('no')}>No</button>
      <button class="button" onClick=${answer('always')}>Always for this client</button>
    </div>
  </section>`;
}

function useNow(ticking) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!ticking) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking]);
  return now;
}
