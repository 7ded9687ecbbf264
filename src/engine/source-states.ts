/**
 * What each source of a download is doing, in words the UI shows: a peer being asked, one that
 * accepted and has not delivered yet, one that refused, one dropped (and why), besides the
 * workers' own active/idle. Fed by the download's peer events; the workers' stats say the rest.
 */
import type { DownloadEvent, WorkerStats } from '../client/events.js';
import { MAX_SOURCE_NOTES } from '../constants.js';
import type { SourceStatus } from './types.js';

type PeerEvent = Extract<DownloadEvent, { type: 'peer' }>;

interface Note {
  label: string;
  state: 'asking' | 'accepted' | 'refused' | 'dropped';
  reason?: string;
}

export class SourceStates {
  /** By source id (`peer:<id>`), oldest first. */
  readonly #notes = new Map<string, Note>();

  /** A new run asks every peer again. */
  reset(): void {
    this.#notes.clear();
  }

  heard(event: PeerEvent): void {
    if (!event.source.startsWith('peer:')) return;
    const state =
      event.status === 'asking' || event.status === 'accepted' || event.status === 'refused'
        ? event.status
        : 'dropped';
    this.#note(event.source, {
      label: event.label,
      state,
      ...(event.message === undefined ? {} : { reason: event.message }),
    });
  }

  /** The peer left the swarm (the directory saw it go): dropped, not failed. */
  departed(sourceId: string, label: string): void {
    this.#note(sourceId, { label, state: 'dropped', reason: 'left the swarm' });
  }

  statuses(stats: readonly WorkerStats[]): SourceStatus[] {
    const seen = new Set<string>();
    const statuses = stats.map((worker) => {
      seen.add(worker.source);
      return this.#status(worker);
    });
    for (const [id, note] of this.#notes) {
      if (seen.has(id)) continue;
      statuses.push({
        id,
        label: note.label,
        kind: 'peer',
        state: note.state,
        rateBps: 0,
        bytes: 0,
        failures: 0,
        ...(note.reason === undefined || note.state === 'asking' || note.state === 'accepted'
          ? {}
          : { reason: note.reason }),
      });
    }
    return statuses;
  }

  #status(worker: WorkerStats): SourceStatus {
    const note = this.#notes.get(worker.source);
    const base: SourceStatus = {
      id: worker.source,
      label: worker.label,
      kind: worker.kind,
      state: worker.active > 0 ? 'active' : 'idle',
      rateBps: worker.rateBps,
      bytes: worker.bytes,
      failures: worker.failures,
      ...(worker.lastError === undefined ? {} : { lastError: worker.lastError }),
    };
    if (worker.dropped) {
      return { ...base, state: 'dropped', reason: note?.reason ?? worker.lastError ?? 'dropped' };
    }
    if (note?.state === 'dropped' && worker.active === 0) {
      return { ...base, state: 'dropped', reason: note.reason ?? 'dropped' };
    }
    if (note?.state === 'accepted' && worker.bytes === 0 && worker.active === 0) {
      return { ...base, state: 'accepted' };
    }
    return base;
  }

  #note(id: string, note: Note): void {
    this.#notes.delete(id);
    this.#notes.set(id, note);
    for (const oldest of this.#notes.keys()) {
      if (this.#notes.size <= MAX_SOURCE_NOTES) break;
      this.#notes.delete(oldest);
    }
  }
}
