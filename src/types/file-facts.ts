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
}
