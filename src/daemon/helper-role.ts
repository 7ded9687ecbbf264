/**
 * This machine's helper role as the daemon shows it: the help requests waiting for an answer
 * (`accept: ask` puts the question here instead of on a terminal), who is being served and how
 * much this machine gave. The role is switched and tuned through the settings (settings.ts);
 * helper-service.ts does the serving.
 */
import { randomBytes } from 'node:crypto';
import { HELPER_CLIENT_NAMES_REMEMBERED, HELPER_RATE_WINDOW_MS } from '../constants.js';
import { DdmError } from '../errors.js';
import type { ConsentAnswer, ConsentPrompt, ConsentQuestion } from '../peer/consent-prompt.js';
import type { ServedFetch, ServingObserver } from '../peer/peer-service.js';
import type { FetchRequest, OfferRequest } from '../protocol/messages.js';
import { RateMeter } from '../scheduler/rate-meter.js';
import type {
  HelpAnswer,
  HelperRole,
  HelperRoleEvent,
  HelperRoleSettings,
  HelperRoleStatus,
  HelpRequest,
  ServingEntry,
} from '../types/helper-role.js';

// The role's contract sits in types/ (the RPC and the UI use it without the daemon); re-exported
// here for the daemon's own modules.
export type * from '../types/helper-role.js';

/** What the serving side tells the role about itself. */
export interface HelperPresence {
  url: string | null;
  freeSlots: number;
}

interface Pending {
  request: HelpRequest;
  settle: (answer: HelpAnswer | 'timeout') => void;
}

interface Serving {
  entry: ServingEntry;
  meter: RateMeter;
  /** Fetches running for this client and URL. */
  fetches: number;
}

/**
 * The role's state and the consent prompt and serving observer that feed it. Pending questions
 * are bounded by the consent desk (one asked at a time, MAX_PENDING_CONSENT_PROMPTS waiting).
 */
export class DaemonHelperRole implements HelperRole {
  readonly #listeners = new Set<(event: HelperRoleEvent) => void>();
  readonly #pending = new Map<string, Pending>();
  /** Per client, address and URL being served. */
  readonly #serving = new Map<string, Serving>();
  /** Client names from offers (a fetch carries only the id), oldest first. */
  readonly #clientNames = new Map<string, string>();
  #settings: HelperRoleSettings;
  #presence: () => HelperPresence = () => ({ url: null, freeSlots: 0 });
  #bytesContributed = 0;

  constructor(
    readonly peerId: string,
    readonly name: string,
    settings: HelperRoleSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.#settings = { ...settings };
  }

  status(): HelperRoleStatus {
    const presence = this.#presence();
    const at = performance.now();
    return {
      ...this.#settings,
      peerId: this.peerId,
      name: this.name,
      url: this.#settings.enabled ? presence.url : null,
      freeSlots: this.#settings.enabled ? presence.freeSlots : 0,
      serving: [...this.#serving.values()].map(({ entry, meter }) => ({
        ...entry,
        speed: Math.round(meter.readingAt(at)?.bytesPerSecond ?? 0),
      })),
      bytesContributed: this.#bytesContributed,
    };
  }

  pendingRequests(): HelpRequest[] {
    return [...this.#pending.values()].map((pending) => ({ ...pending.request }));
  }

  answer(id: string, answer: HelpAnswer): void {
    const pending = this.#pending.get(id);
    if (!pending) throw new DdmError('NOT_FOUND', `no help request ${id} is waiting for an answer`);
    pending.settle(answer);
  }

  on(listener: (event: HelperRoleEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The serving side's settings and presence changed. */
  update(settings: HelperRoleSettings, presence: () => HelperPresence): void {
    this.#settings = { ...settings };
    this.#presence = presence;
    // Questions for a role that no longer asks are answered no: nobody will answer them here.
    if (!settings.enabled || settings.accept !== 'ask') {
      for (const pending of this.#pending.values()) pending.settle('no');
    }
    this.#emitStatus();
  }

  /** Asks through the role: the question waits in pendingRequests() until answered or expired. */
  readonly prompt: ConsentPrompt = (question, signal) =>
    new Promise<ConsentAnswer>((resolve) => {
      const request = this.#requestFor(question);
      const settle = (answer: HelpAnswer | 'timeout') => {
        if (!this.#pending.delete(request.id)) return;
        signal.removeEventListener('abort', onAbort);
        this.#emit({ type: 'help-request-settled', id: request.id, answer });
        resolve(answer === 'timeout' ? 'no' : answer);
      };
      const onAbort = () => settle('timeout');
      if (signal.aborted) {
        resolve('no');
        return;
      }
      this.#pending.set(request.id, { request, settle });
      signal.addEventListener('abort', onAbort, { once: true });
      this.#emit({ type: 'help-request', request: { ...request } });
    });

  readonly observer: ServingObserver = {
    accepted: (offer: OfferRequest) => this.#rememberName(offer.clientId, offer.clientName),
    fetchStarted: (request: FetchRequest, address: string) => this.#fetchStarted(request, address),
  };

  #requestFor(question: ConsentQuestion): HelpRequest {
    this.#rememberName(question.clientId, question.clientName);
    const askedAt = this.now();
    return {
      id: randomBytes(8).toString('hex'),
      clientId: question.clientId,
      clientName: question.clientName,
      address: question.address,
      host: question.host,
      file: fileOf(question.url, question.fileName),
      size: question.size,
      askedAt,
      expiresAt: question.expiresAt ?? askedAt,
    };
  }

  #fetchStarted(request: FetchRequest, address: string): ServedFetch {
    const key = `${request.clientId}\n${address}\n${request.url}`;
    let serving = this.#serving.get(key);
    if (!serving) {
      const url = parsedUrl(request.url);
      serving = {
        entry: {
          clientId: request.clientId,
          clientName: this.#clientNames.get(request.clientId) ?? request.clientId,
          address,
          host: url?.host ?? '',
          file: fileOf(request.url, ''),
          bytes: 0,
          speed: 0,
          since: this.now(),
        },
        meter: new RateMeter(HELPER_RATE_WINDOW_MS),
        fetches: 0,
      };
      this.#serving.set(key, serving);
      serving.meter.start(performance.now());
      this.#emitStatus();
    }
    const held = serving;
    held.fetches += 1;
    let ended = false;
    return {
      sent: (bytes) => {
        held.entry.bytes += bytes;
        this.#bytesContributed += bytes;
        held.meter.record(bytes, performance.now());
      },
      end: () => {
        if (ended) return;
        ended = true;
        held.fetches -= 1;
        if (held.fetches > 0) return;
        this.#serving.delete(key);
        this.#emitStatus();
      },
    };
  }

  #rememberName(clientId: string, clientName: string): void {
    this.#clientNames.delete(clientId);
    this.#clientNames.set(clientId, clientName);
    for (const oldest of this.#clientNames.keys()) {
      if (this.#clientNames.size <= HELPER_CLIENT_NAMES_REMEMBERED) break;
      this.#clientNames.delete(oldest);
    }
  }

  #emitStatus(): void {
    if (this.#listeners.size === 0) return;
    this.#emit({ type: 'status', status: this.status() });
  }

  #emit(event: HelperRoleEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}

function parsedUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** The last segment of the URL's path, decoded and printable; `fallback` when there is none. */
function fileOf(url: string, fallback: string): string {
  const path = parsedUrl(url)?.pathname ?? '';
  const last = path.slice(path.lastIndexOf('/') + 1);
  let name = last;
  try {
    name = decodeURIComponent(last);
  } catch {
    // A malformed escape is shown as it came.
  }
  return (name || fallback).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 255);
}
