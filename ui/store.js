// The app's live state, fed by the daemon: every download (pushed by ddm.onProgress), the
// speed history the charts draw, the help requests waiting for an answer, the connection state.
import { useEffect, useState } from 'preact/hooks';

const SPEED_SAMPLES = 120;
const SUBSCRIBE_INTERVAL_MS = 1000;
const ARIA2_CHANGES = [
  'aria2.onDownloadStart',
  'aria2.onDownloadPause',
  'aria2.onDownloadStop',
  'aria2.onDownloadComplete',
  'aria2.onDownloadError',
];

export function createStore(rpc) {
  let state = { connection: rpc.state, downloads: [], helpRequests: [], speeds: new Map(), loaded: false };
  const listeners = new Set();
  const set = (changes) => {
    state = { ...state, ...changes };
    for (const listener of listeners) listener(state);
  };

  const recordSpeeds = (downloads) => {
    const speeds = new Map(state.speeds);
    for (const download of downloads) {
      if (download.state !== 'active') continue;
      const samples = [...(speeds.get(download.id) ?? []), { time: Date.now(), speed: download.speedBps }];
      speeds.set(download.id, samples.slice(-SPEED_SAMPLES));
    }
    return speeds;
  };
  const merge = (updates) => {
    const byId = new Map(state.downloads.map((download) => [download.id, download]));
    for (const download of updates) byId.set(download.id, { ...byId.get(download.id), ...download });
    set({ downloads: [...byId.values()], speeds: recordSpeeds(updates) });
  };

  const refresh = async () => {
    try {
      const downloads = await rpc.call('ddm.tellAll');
      set({ downloads, speeds: recordSpeeds(downloads), loaded: true });
    } catch (error) {
      // A restarted daemon forgot this browser's session: its sign-in page is one reload away.
      if (error.message === 'Unauthorized') location.reload();
      // Otherwise the connection dropped, and 'open' refreshes again.
    }
  };
  const refreshHelpRequests = async () => {
    try {
      set({ helpRequests: await rpc.call('ddm.getHelpRequests') });
    } catch {
      set({ helpRequests: [] });
    }
  };

  rpc.onState((connection) => {
    set({ connection });
    if (connection !== 'open') return;
    rpc.call('ddm.subscribe', [{ intervalMs: SUBSCRIBE_INTERVAL_MS }]).catch(() => {});
    void refresh();
    void refreshHelpRequests();
  });
  rpc.on('ddm.onProgress', ([update]) => merge(update?.downloads ?? []));
  for (const method of ARIA2_CHANGES) rpc.on(method, () => void refresh());
  rpc.on('ddm.onHelpRequest', ([request]) => {
    if (!request || state.helpRequests.some((known) => known.id === request.id)) return;
    set({ helpRequests: [...state.helpRequests, request] });
    notifyHelpRequest(request);
  });
  rpc.on('ddm.onHelpRequestSettled', ([settled]) => {
    set({ helpRequests: state.helpRequests.filter((request) => request.id !== settled?.id) });
  });

  return {
    rpc,
    get: () => state,
    refresh,
    forgetHelpRequest: (id) =>
      set({ helpRequests: state.helpRequests.filter((request) => request.id !== id) }),
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The store's state, re-rendering the component on every change. */
export function useStore(store) {
  const [state, setState] = useState(store.get());
  useEffect(() => store.subscribe(setState), [store]);
  return state;
}

function notifyHelpRequest(request) {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  const notification = new Notification(`${request.clientName || request.address} asks for help`, {
    body: `${request.file} from ${request.host}`,
    tag: `ddm-help-${request.id}`,
  });
  notification.addEventListener('click', () => window.focus());
}

/** What the list shows of a download: its name, time left and helpers, even from a bare status. */
export function describe(download) {
  const name = download.name ?? baseName(download.output) ?? baseName(safePath(download.url)) ?? download.url;
  const remaining = download.totalBytes === null ? null : download.totalBytes - download.completedBytes;
  const eta =
    download.eta !== undefined
      ? download.eta
      : download.state === 'active' && download.speedBps > 0 && remaining !== null
        ? remaining / download.speedBps
        : null;
  const helpers =
    download.helpers ??
    (download.sources ?? []).filter((source) => source.kind === 'peer' && source.state === 'active').length;
  const progress = download.totalBytes
    ? download.completedBytes / download.totalBytes
    : download.state === 'complete'
      ? 1
      : 0;
  return { name, eta, helpers, progress };
}

function baseName(path) {
  if (!path) return undefined;
  const parts = path.split('/').filter(Boolean);
  if (!parts.length) return undefined;
  try {
    return decodeURIComponent(parts[parts.length - 1]);
  } catch {
    return parts[parts.length - 1];
  }
}

function safePath(url) {
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}
