/**
 * Whether this peer helps a given client with a given URL (`--accept auto|ask|never`). A yes
 * stands for that client, address and URL for a while, so each range fetch need not ask again;
 * "always" stands for that client for the life of the process. The operator sees one question
 * at a time, and every offer gets its answer within the prompt timeout.
 */
import type { Logger } from 'pino';
import { MAX_CONSENT_GRANTS, MAX_CONSENT_GRANTS_PER_CLIENT } from '../constants.js';
import type { OfferRequest } from '../protocol/messages.js';
import type { AcceptMode } from '../types/helper-role.js';
import type { ConsentAnswer, ConsentPrompt, ConsentQuestion } from './consent-prompt.js';

/** `--accept`: one definition, in the helper role's contract. */
export type { AcceptMode };

export interface ConsentOptions {
  mode: AcceptMode;
  prompt: ConsentPrompt;
  /** From the offer's arrival: waiting for earlier questions counts too. */
  promptTimeoutMs: number;
  /** How long a yes stands for the same client and URL. */
  grantTtlMs: number;
  /** Offers waiting for the operator at once; more are answered busy. */
  maxPending: number;
  /** Consents remembered in all, and per client address (defaults: the named constants). */
  maxGrants?: number;
  maxGrantsPerClient?: number;
  now: () => number;
  log?: Logger;
}

export type ConsentVerdict =
  | { accepted: true }
  | { accepted: false; code: 'PEER_REFUSED' | 'PEER_BUSY'; message: string };

const ACCEPTED: ConsentVerdict = { accepted: true };

const NO_ROOM: ConsentVerdict = {
  accepted: false,
  code: 'PEER_BUSY',
  message: 'this peer holds as many consents as it can, all in use; try again later',
};

interface Grant {
  expiry: number;
  address: string;
  /** Fetches running under this consent; one in use is never evicted. */
  inUse: number;
}

export class ConsentDesk {
  /** Standing yes per client, address and URL, in expiry order (delete + set on renewal). */
  private readonly grants = new Map<string, Grant>();
  /** Grants held per client address. */
  private readonly perAddress = new Map<string, number>();
  /** Clients answered "always", by id and address. */
  private readonly trusted = new Set<string>();
  /** Resolves when the operator is free for the next question. */
  private turn: Promise<void> = Promise.resolve();
  private pending = 0;

  private mode: AcceptMode;

  constructor(private readonly opts: ConsentOptions) {
    this.mode = opts.mode;
  }

  /** A new accept mode, from the next offer on; standing consents stay. */
  setMode(mode: AcceptMode): void {
    this.mode = mode;
  }

  /**
   * Whether a fetch by this client for this URL is covered by a standing consent. A fetch renews
   * it, so a download that runs for hours keeps the peer it was granted.
   */
  allows(clientId: string, address: string, url: string): boolean {
    const release = this.hold(clientId, address, url);
    release?.();
    return release !== undefined;
  }

  /**
   * Like `allows`, and marks the consent in use (never evicted) until the returned function is
   * called; undefined when there is no standing consent.
   */
  hold(clientId: string, address: string, url: string): (() => void) | undefined {
    const key = grantKey(clientId, address, url);
    const now = this.opts.now();
    const grant = this.grants.get(key);
    if (grant === undefined || grant.expiry <= now) return undefined;
    this.renew(key, grant, now);
    grant.inUse += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      grant.inUse -= 1;
    };
  }

  private renew(key: string, grant: Grant, now: number): void {
    this.grants.delete(key);
    grant.expiry = now + this.opts.grantTtlMs;
    this.grants.set(key, grant);
  }

  /** Records a yes; false when no room can be made (every evictable consent is in use). */
  private remember(key: string, address: string, now: number): boolean {
    const known = this.grants.get(key);
    if (known !== undefined) {
      this.renew(key, known, now);
      return true;
    }
    this.forgetExpired(now);
    const perClient = this.opts.maxGrantsPerClient ?? MAX_CONSENT_GRANTS_PER_CLIENT;
    if ((this.perAddress.get(address) ?? 0) >= perClient && !this.evictOldestOf(address)) return false;
    if (this.grants.size >= (this.opts.maxGrants ?? MAX_CONSENT_GRANTS) && !this.evictFromLargestHolder()) {
      return false;
    }
    this.grants.set(key, { expiry: now + this.opts.grantTtlMs, address, inUse: 0 });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    return true;
  }

  private forgetExpired(now: number): void {
    for (const [key, grant] of this.grants) {
      if (grant.expiry > now) break;
      if (grant.inUse === 0) this.forget(key, grant);
    }
  }

  /** The oldest consent of `address` that no fetch uses goes; false when there is none. */
  private evictOldestOf(address: string): boolean {
    for (const [key, grant] of this.grants) {
      if (grant.address === address && grant.inUse === 0) {
        this.forget(key, grant);
        return true;
      }
    }
    return false;
  }

  /** When the desk is full, the client holding the most consents pays for the newcomer. */
  private evictFromLargestHolder(): boolean {
    const holders = [...this.perAddress.entries()].sort((a, b) => b[1] - a[1]);
    return holders.some(([address]) => this.evictOldestOf(address));
  }

  private forget(key: string, grant: Grant): void {
    this.grants.delete(key);
    const left = (this.perAddress.get(grant.address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(grant.address, left);
    else this.perAddress.delete(grant.address);
  }

  async decide(offer: OfferRequest, address: string, signal: AbortSignal): Promise<ConsentVerdict> {
    if (this.mode === 'never') {
      return {
        accepted: false,
        code: 'PEER_REFUSED',
        message: 'this peer does not help anyone (--accept never)',
      };
    }
    if (this.mode === 'auto' || this.standing(offer, address)) return this.grant(offer, address);
    if (this.pending >= this.opts.maxPending) {
      return { accepted: false, code: 'PEER_BUSY', message: 'too many offers are waiting for the operator' };
    }
    this.pending += 1;
    try {
      return await this.ask(offer, address, signal);
    } finally {
      this.pending -= 1;
    }
  }

  private standing(offer: OfferRequest, address: string): boolean {
    return (
      this.trusted.has(clientKey(offer.clientId, address)) || this.allows(offer.clientId, address, offer.url)
    );
  }

  private grant(offer: OfferRequest, address: string): ConsentVerdict {
    if (!this.remember(grantKey(offer.clientId, address, offer.url), address, this.opts.now()))
      return NO_ROOM;
    return ACCEPTED;
  }

  private async ask(offer: OfferRequest, address: string, caller: AbortSignal): Promise<ConsentVerdict> {
    const expiresAt = this.opts.now() + this.opts.promptTimeoutMs;
    const deadline = AbortSignal.any([caller, AbortSignal.timeout(this.opts.promptTimeoutMs)]);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.turn;
    // The next question waits for ours and for every one before it, even if we give up early.
    this.turn = previous.then(() => mine);
    try {
      if (!(await before(previous, deadline))) return unanswered();
      // Another offer from the same client may have been answered while we waited.
      if (this.standing(offer, address)) return this.grant(offer, address);
      const answer = await this.promptOperator(questionFor(offer, address, expiresAt), deadline);
      if (answer === undefined) return unanswered();
      if (answer === 'no')
        return { accepted: false, code: 'PEER_REFUSED', message: 'the operator of this peer said no' };
      if (answer === 'always') this.trusted.add(clientKey(offer.clientId, address));
      return this.grant(offer, address);
    } finally {
      release();
    }
  }

  /** The operator's answer, or undefined when none came before `deadline`. */
  private async promptOperator(
    question: ConsentQuestion,
    deadline: AbortSignal,
  ): Promise<ConsentAnswer | undefined> {
    let answered: ConsentAnswer | undefined;
    const asked = this.opts.prompt(question, deadline).then(
      (answer) => {
        answered = answer;
      },
      (error: unknown) => {
        this.opts.log?.warn({ err: error }, 'consent prompt failed; counting it as no');
        answered = 'no';
      },
    );
    if (!(await before(asked, deadline))) return undefined;
    this.opts.log?.info(
      { client: question.clientName, address: question.address, answer: answered },
      'consent',
    );
    return answered;
  }
}

function unanswered(): ConsentVerdict {
  return {
    accepted: false,
    code: 'PEER_REFUSED',
    message: 'the operator of this peer did not answer in time',
  };
}

/** True when `work` settles before `signal` aborts. */
function before(work: Promise<unknown>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(!signal.aborted);
      },
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(!signal.aborted);
      },
    );
  });
}

function questionFor(offer: OfferRequest, address: string, expiresAt: number): ConsentQuestion {
  return {
    expiresAt,
    clientId: offer.clientId,
    clientName: offer.clientName,
    address,
    url: offer.url,
    host: hostOf(offer.url),
    fileName: offer.fileName,
    size: offer.size,
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url.slice(0, 100);
  }
}

function grantKey(clientId: string, address: string, url: string): string {
  return `${clientId}\n${address}\n${url}`;
}

function clientKey(clientId: string, address: string): string {
  return `${clientId}\n${address}`;
}
