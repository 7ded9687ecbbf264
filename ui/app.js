// The app's shell: header and navigation, the page the address names (#/…), the connection's
// state, and help requests over whichever page is open.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { HelpRequests } from './help-requests.js';
import { html } from './html.js';
import { AddPage } from './page-add.js';
import { DetailPage } from './page-detail.js';
import { DownloadsPage } from './page-downloads.js';
import { SettingsPage } from './page-settings.js';
import { SwarmPage } from './page-swarm.js';
import { daemonSocketUrl, RpcClient } from './rpc-client.js';
import { createStore, useStore } from './store.js';

const NAV = [
  { href: '#/', label: 'Downloads', page: 'downloads' },
  { href: '#/add', label: 'Add', page: 'add' },
  { href: '#/swarm', label: 'Swarm', page: 'swarm' },
  { href: '#/settings', label: 'Settings', page: 'settings' },
];
const CONNECTION_WORDS = { open: 'Connected', connecting: 'Connecting…', closed: 'Reconnecting…' };

function parseRoute(hash) {
  const path = hash.replace(/^#/, '') || '/';
  const detail = /^\/downloads\/([0-9a-f]{16})$/.exec(path);
  if (detail) return { page: 'detail', gid: detail[1] };
  const page = NAV.find((item) => item.href === `#${path}`)?.page;
  return { page: page ?? 'downloads' };
}

function useRoute() {
  const [route, setRoute] = useState(parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => {
      setRoute(parseRoute(location.hash));
      document.getElementById('main')?.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function App({ store }) {
  const state = useStore(store);
  const route = useRoute();
  const navigate = (hash) => {
    location.hash = hash;
  };
  const active = route.page === 'detail' ? 'downloads' : route.page;
  const waiting = state.helpRequests.length;
  useEffect(() => {
    document.title = waiting > 0 ? `(${waiting}) ddm` : 'ddm';
  }, [waiting]);
  const props = { store, state, navigate };
  return html`<a class="skip-link" href="#main" onClick=${(e) => {
    e.preventDefault();
    document.getElementById('main')?.focus();
  }}>Skip to content</a>
    <header class="topbar">
      <a class="brand" href="#/"><span class="brand-mark" aria-hidden="true"></span>ddm</a>
      <nav class="nav" aria-label="Main">
        ${NAV.map(
          (item) =>
            html`<a href=${item.href} class="nav-link" aria-current=${item.page === active ? 'page' : undefined}>${item.label}</a>`,
        )}
      </nav>
      <div class="topbar-end">
        <span class=${`connection connection-${state.connection}`} role="status">
          <span class="dot" aria-hidden="true"></span>${CONNECTION_WORDS[state.connection]}
        </span>
        <form method="post" action="/logout"><button class="button ghost small" type="submit">Sign out</button></form>
      </div>
    </header>
    <main id="main" tabindex="-1">
      ${route.page === 'downloads' ? html`<${DownloadsPage} ...${props} />` : null}
      ${route.page === 'add' ? html`<${AddPage} ...${props} />` : null}
      ${route.page === 'detail' ? html`<${DetailPage} ...${props} gid=${route.gid} />` : null}
      ${route.page === 'swarm' ? html`<${SwarmPage} ...${props} />` : null}
      ${route.page === 'settings' ? html`<${SettingsPage} ...${props} />` : null}
    </main>
    <${HelpRequests} store=${store} requests=${state.helpRequests} />`;
}

const store = createStore(new RpcClient(daemonSocketUrl()));
const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} store=${store} />`, root);
