/**
 * Whether this peer helps a given client with a given URL (`--accept auto|ask|never`). A yes
 * stands for that client, address and URL for a while, so each range fetch need not ask again;
 * "always" stands for that client for the life of the process. The operator sees one question
 * at a time, and every offer gets its answer within the prompt timeout.
 */
import type { Logger } from 'pino';
import { MAX_CONSENT_GRANTS } from '../constants.js';
import type { OfferRequest } from '../protocol/messages.js';
import type { ConsentAnswer, ConsentPrompt, ConsentQuestion } from './consent-prompt.js';

export type AcceptMode = 'auto' | 'ask' | 'never';

export interface ConsentOptions {
  mode: AcceptMode;
  prompt: ConsentPrompt;
  /** From the offer's arrival: waiting for earlier questions counts too. */
  promptTimeoutMs: number;
  /** How long a yes stands for the same client and URL. */
  grantTtlMs: number;
  /** Offers waiting for the operator at once; more are answered busy. */
  maxPending: number;
  now: () => number;
  log?: Logger;
}

export type ConsentVerdict =
  | { accepted: true }
  | { accepted: false; code: 'PEER_REFUSED' | 'PEER_BUSY'; message: string };

const ACCEPTED: ConsentVerdict = { accepted: true };

export class ConsentDesk {
  /** Standing yes per client, address and URL, with its expiry time. */
  private readonly grants = new Map<string, number>();
  /** Clients answered "always", by id and address. */
  private readonly trusted = new Set<string>();
  /** Resolves when the operator is free for the next question. */
  private turn: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly opts: ConsentOptions) {}

  /**
   * Whether a fetch by this client for this URL is covered by a standing consent. A fetch renews
   * it, so a download that runs for hours keeps the peer it was granted.
   */
  allows(clientId: string, address: string, url: string): boolean {
    const key = grantKey(clientId, address, url);
    const expiry = this.grants.get(key);
    const now = this.opts.now();
    if (expiry === undefined || expiry <= now) return false;
    this.remember(key, now);
    return true;
  }

  /** Grants are kept in expiry order (delete + set), so pruning and eviction start at the front. */
  private remember(key: string, now: number): void {
    this.grants.delete(key);
    this.grants.set(key, now + this.opts.grantTtlMs);
    for (const [oldest, expiry] of this.grants) {
      if (expiry > now && this.grants.size <= MAX_CONSENT_GRANTS) break;
      this.grants.delete(oldest);
    }
  }

  async decide(offer: OfferRequest, address: string, signal: AbortSignal): Promise<ConsentVerdict> {
    if (this.opts.mode === 'never') {
      return {
        accepted: false,
        code: 'PEER_REFUSED',
        message: 'this peer does not help anyone (--accept never)',
      };
    }
    if (this.opts.mode === 'auto' || this.standing(offer, address)) return this.grant(offer, address);
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
    this.remember(grantKey(offer.clientId, address, offer.url), this.opts.now());
    return ACCEPTED;
  }

  private async ask(offer: OfferRequest, address: string, caller: AbortSignal): Promise<ConsentVerdict> {
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
      const answer = await this.promptOperator(questionFor(offer, address), deadline);
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

function questionFor(offer: OfferRequest, address: string): ConsentQuestion {
  return {
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
