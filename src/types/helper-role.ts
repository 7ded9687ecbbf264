/**
 * The daemon's helper role as its other parts see it (the RPC, the web UI): settings, help
 * requests waiting for the operator, what it serves. The daemon implements it
 * (daemon/helper-role.ts); these types sit at the bottom so those parts need not import the daemon.
 */

/** As `--accept` (peer/consent.ts). */
export type AcceptMode = 'auto' | 'ask' | 'never';

export interface HelperRoleSettings {
  enabled: boolean;
  accept: AcceptMode;
  slots: number;
  /** Bytes per second over all clients; 0 = none. */
  maxUpload: number;
}

export interface HelpRequest {
  /** 16 hex digits. */
  id: string;
  clientId: string;
  clientName: string;
  address: string;
  /** The origin's host. */
  host: string;
  /** The file name from the URL's path (never the query string). */
  file: string;
  size: number | null;
  /** Ms since the epoch. */
  askedAt: number;
  expiresAt: number;
}

export interface ServingEntry {
  clientId: string;
  clientName: string;
  address: string;
  host: string;
  file: string;
  bytes: number;
  /** Bytes per second, smoothed. */
  speed: number;
  since: number;
}

export interface HelperRoleStatus extends HelperRoleSettings {
  peerId: string;
  name: string;
  /** Where peers reach this helper; null when off. */
  url: string | null;
  freeSlots: number;
  serving: ServingEntry[];
  /** Bytes served since the daemon started. */
  bytesContributed: number;
}

export type HelpAnswer = 'yes' | 'no' | 'always';

export type HelperRoleEvent =
  | { type: 'help-request'; request: HelpRequest }
  | { type: 'help-request-settled'; id: string; answer: HelpAnswer | 'timeout' }
  | { type: 'status'; status: HelperRoleStatus };

export interface HelperRole {
  status(): HelperRoleStatus;
  pendingRequests(): HelpRequest[];
  /** DdmError code 'NOT_FOUND' when the request is unknown or already settled. */
  answer(id: string, answer: HelpAnswer): void;
  on(listener: (event: HelperRoleEvent) => void): () => void;
}
