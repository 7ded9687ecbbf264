/**
 * What the RPC remembers about downloads beyond the engine: the order in which they stopped
 * (aria2.tellStopped), the last status of removed ones, the last events of each (ddm.getEvents),
 * and aria2's notifications, derived from the engine's state changes.
 */
import { RPC_EVENTS_KEPT, RPC_MAX_STOPPED_KEPT } from '../constants.js';
import type { EngineEvent, HandleEvent } from '../engine/types.js';
import type { RpcDeps } from './deps.js';
import { type DownloadView, dirOf, finishedStatus } from './download-view.js';
import { methodError } from './rpc-error.js';

export interface LoggedEvent {
  /** ms since epoch. */
  time: number;
  type: string;
  text: string;
}

export type Aria2Notification =
  | 'aria2.onDownloadStart'
  | 'aria2.onDownloadPause'
  | 'aria2.onDownloadStop'
  | 'aria2.onDownloadComplete'
  | 'aria2.onDownloadError';

const NOTIFICATION_OF_STATE: Record<string, Aria2Notification | undefined> = {
  active: 'aria2.onDownloadStart',
  paused: 'aria2.onDownloadPause',
  // Waiting for a new link is a pause to aria2's clients.
  expired: 'aria2.onDownloadPause',
  removed: 'aria2.onDownloadStop',
  complete: 'aria2.onDownloadComplete',
  error: 'aria2.onDownloadError',
};

export class DownloadBook {
  /** gids in the order they stopped; a removed one keeps its last view here. */
  readonly #stopped = new Map<string, DownloadView | undefined>();
  readonly #events = new Map<string, LoggedEvent[]>();
  readonly #dispose: () => void;

  constructor(
    private readonly deps: RpcDeps,
    notify: (method: Aria2Notification, gid: string) => void,
  ) {
    this.#dispose = deps.engine.on((event) => {
      this.#log(event);
      if (event.event.type !== 'state') return;
      const { state } = event.event;
      if (state === 'complete' || state === 'error') this.#markStopped(event.id, undefined);
      // As aria2: a download removed while running leaves a result; one removed from the queue does not.
      if (state === 'removed' && event.event.previous === 'active') {
        const handle = deps.engine.get(event.id);
        this.#markStopped(
          event.id,
          handle ? this.#viewOf(handle.status(), handle.sessionRequest()) : undefined,
        );
      } else if (state === 'removed') {
        this.#stopped.delete(event.id);
        this.#events.delete(event.id);
      }
      // Forgetting a finished result (purgeDownloadResult) stops nothing: aria2 says nothing then.
      const forgotten =
        state === 'removed' && (event.event.previous === 'complete' || event.event.previous === 'error');
      const method = NOTIFICATION_OF_STATE[state];
      if (method && !forgotten) notify(method, event.id);
    });
  }

  close(): void {
    this.#dispose();
  }

  /** Every download: the engine's, then the removed ones, then the earlier daemon's. */
  all(): DownloadView[] {
    const live = this.deps.engine
      .list()
      .filter((handle) => handle.state !== 'removed')
      .map((handle) => this.#viewOf(handle.status(), handle.sessionRequest()));
    const removed = [...this.#stopped.values()].filter((view) => view !== undefined);
    return [...live, ...removed, ...this.#earlier()];
  }

  active(): DownloadView[] {
    return this.all().filter((view) => view.status.state === 'active');
  }

  /** Waiting, paused and expired (paused to aria2), in queue order. */
  waiting(): DownloadView[] {
    return this.all().filter((view) => ['waiting', 'paused', 'expired'].includes(view.status.state));
  }

  /** Over (complete, error, removed), oldest first: the earlier daemon's, then this one's. */
  stopped(): DownloadView[] {
    const views = new Map(this.all().map((view) => [view.status.id, view]));
    const ordered = new Map(this.#earlier().map((view) => [view.status.id, view]));
    for (const [gid, removed] of this.#stopped) {
      const view = removed ?? views.get(gid);
      if (view && isStopped(view)) ordered.set(gid, view);
    }
    for (const view of views.values())
      if (isStopped(view) && !ordered.has(view.status.id)) ordered.set(view.status.id, view);
    return [...ordered.values()];
  }

  /** The download named by `gid`, or its unique prefix as aria2 allows; code 1 when none. */
  find(gid: string): DownloadView {
    const all = this.all();
    const exact = all.find((view) => view.status.id === gid);
    if (exact) return exact;
    const matches = gid.length > 0 ? all.filter((view) => view.status.id.startsWith(gid)) : [];
    if (matches.length === 1) return matches[0]!;
    throw methodError(`GID ${gid} is not found`);
  }

  events(gid: string): LoggedEvent[] {
    return [...(this.#events.get(this.find(gid).status.id) ?? [])];
  }

  /** aria2.removeDownloadResult / purgeDownloadResult: forgets a stopped download's result. */
  async forget(view: DownloadView): Promise<void> {
    const gid = view.status.id;
    this.#stopped.delete(gid);
    this.#events.delete(gid);
    const finished = this.deps.finished;
    const index = finished?.findIndex((saved) => saved.id === gid) ?? -1;
    if (finished && index >= 0) finished.splice(index, 1);
    const handle = this.deps.engine.get(gid);
    if (handle && handle.state !== 'removed') {
      await handle.remove({ keepFiles: true });
      this.#stopped.delete(gid);
    }
    this.deps.changed?.();
  }

  #earlier(): DownloadView[] {
    return (this.deps.finished ?? []).map((saved) => {
      const status = finishedStatus(saved);
      return { status, request: saved.request, dir: dirOf(status, saved.request, this.deps.dir()) };
    });
  }

  #viewOf(status: DownloadView['status'], request: Record<string, unknown>): DownloadView {
    return { status, request, dir: dirOf(status, request, this.deps.dir()) };
  }

  #markStopped(gid: string, view: DownloadView | undefined): void {
    this.#stopped.delete(gid);
    this.#stopped.set(gid, view);
    while (this.#stopped.size > RPC_MAX_STOPPED_KEPT) {
      const oldest = this.#stopped.keys().next().value as string;
      this.#stopped.delete(oldest);
      this.#events.delete(oldest);
    }
  }

  #log({ id, event }: EngineEvent): void {
    if (event.type === 'progress') return;
    let log = this.#events.get(id);
    if (!log) {
      log = [];
      this.#events.set(id, log);
    }
    log.push({ time: Date.now(), type: event.type, text: describe(event) });
    if (log.length > RPC_EVENTS_KEPT) log.splice(0, log.length - RPC_EVENTS_KEPT);
  }
}

function isStopped(view: DownloadView): boolean {
  const state = view.status.state;
  return state === 'complete' || state === 'error' || state === 'removed';
}

/** An event in words, for people reading ddm.getEvents. */
function describe(event: HandleEvent): string {
  switch (event.type) {
    case 'state':
      return `${event.previous} → ${event.state}`;
    case 'start':
      return `started ${event.output}${event.size === null ? '' : ` (${event.size} bytes)`}, ${event.connections} connection(s)${event.resumedBytes > 0 ? `, resumed at ${event.resumedBytes} bytes` : ''}${event.restartReason ? `; restarted: ${event.restartReason}` : ''}`;
    case 'notice':
      return event.message;
    case 'retry':
      return `${event.source}: try ${event.tryNumber} in ${event.delayMs} ms after ${event.code}: ${event.message}`;
    case 'peer':
      return `peer ${event.label} ${event.status}${event.message ? `: ${event.message}` : ''}`;
    case 'done':
      return `done: ${event.size} bytes in ${event.elapsedMs} ms`;
    case 'error':
      return `failed (${event.code}): ${event.message}`;
    default:
      return event.type;
  }
}
