/**
 * The daemon's settings as its other parts see them (the RPC, the web UI). The daemon implements
 * the store (daemon/settings.ts); these types sit at the bottom so those parts need not import it.
 */
import type { HelperRoleSettings } from './helper-role.js';

export interface DaemonSettings {
  /** Download folder. */
  dir: string;
  /** Downloads at once. */
  maxActive: number;
  /** Default connections per download. */
  connections: number;
  /** Connections in total. */
  maxConnections: number;
  /** Default per-download bytes/s, 0 = none. */
  maxSpeed: number;
  /** Global bytes/s, 0 = none. */
  maxOverallSpeed: number;
  trackers: string[];
  /** Static --peer URLs. */
  peers: string[];
  lanDiscovery: boolean;
  /** The secret itself is write-only. */
  swarmSecretSet: boolean;
  /** E.g. 'ab12…' (first 4 chars) or ''. */
  swarmSecretHint: string;
  tlsFingerprints: string[];
  helper: HelperRoleSettings;
}

export interface SettingsChange
  extends Partial<Omit<DaemonSettings, 'swarmSecretSet' | 'swarmSecretHint' | 'helper'>> {
  /** Set ('' clears). */
  swarmSecret?: string;
  helper?: Partial<HelperRoleSettings>;
}

export interface SettingsStore {
  get(): DaemonSettings;
  /** Validates (valibot; a DdmError USAGE naming the key on bad input), applies live, persists in the
   *  session file, resolves with the new settings. */
  change(changes: SettingsChange): Promise<DaemonSettings>;
  /** A fresh random swarm secret, stored as if set by change({swarmSecret}); returned ONCE. */
  generateSwarmSecret(): Promise<string>;
  on(listener: (settings: DaemonSettings) => void): () => void;
}
