import type { Validators } from './validators.js';

/**
 * What the engine learned about the file, shared with peers so they fetch the same version.
 * The probe (client/) makes it, the swarm (client/swarm.ts) offers it: neither owns it.
 */
export interface FileFacts {
  url: string;
  finalUrl: string;
  size: number;
  fileName: string;
  validators: Validators;
  headers: Record<string, string>;
  /**
   * Mirrors that passed their probe, each with its own final URL, validators and headers:
   * helpers are offered the primary and these in turn, so they spread over the origins.
   */
  mirrors?: readonly OriginFacts[];
}

/** One origin URL of the file as a helper fetches it. */
export interface OriginFacts {
  finalUrl: string;
  validators: Validators;
  headers: Record<string, string>;
}
