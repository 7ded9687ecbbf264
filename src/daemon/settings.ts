/**
 * The daemon's settings: validated, applied while everything runs, kept in the session file
 * across restarts. Flags of `ddm daemon` override the saved values for one run: the effective
 * settings are saved ⊕ flags, and a change of a key through `change()` replaces both. The swarm
 * secret is write-only: it lives in its own file (mode 0600) in the state directory, and the
 * settings only say whether one is set and how it begins.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, rm } from 'node:fs/promises';
import * as v from 'valibot';
import {
  DEFAULT_CONNECTIONS,
  DEFAULT_MAX_ACTIVE_DOWNLOADS,
  DEFAULT_MAX_TOTAL_CONNECTIONS,
  DEFAULT_PEER_SLOTS,
  GENERATED_SWARM_SECRET_BYTES,
  MAX_CONNECTIONS,
  MAX_PEER_SLOTS,
} from '../constants.js';
import { DdmError } from '../errors.js';
import { replaceFileAtomically } from '../storage/durable-write.js';
import { parseFingerprint } from '../transport/client/node-trust.js';
import type { DaemonSettings, SettingsChange, SettingsStore } from '../types/daemon-settings.js';
import { issuePath, isUnknownKey, requirementText } from '../util/schema-issues.js';
import { nonEmptyString, wholeNumber } from '../util/schema-parts.js';
import type { HelperRoleSettings } from './helper-role.js';

export type { DaemonSettings, SettingsChange, SettingsStore };
/** What the session file keeps: the settings without the secret. */
export type SavedSettings = Omit<DaemonSettings, 'swarmSecretSet' | 'swarmSecretHint'>;

/** The values a run takes from its flags instead of the saved settings. */
export interface SettingsOverrides extends Partial<Omit<SavedSettings, 'helper'>> {
  helper?: Partial<HelperRoleSettings>;
  swarmSecret?: string;
}

const MIN_SECRET_LENGTH = 16;

const nodeUrl = v.pipe(v.string(), v.check(isHttpUrl, 'must be http:// or https:// URLs'));
const helperSchema = v.strictObject({
  enabled: v.boolean(),
  accept: v.picklist(['auto', 'ask', 'never']),
  slots: wholeNumber(1, MAX_PEER_SLOTS),
  maxUpload: wholeNumber(0),
});

/** What the saved settings and a change have in common: every key but the secret and the helper's. */
const plainEntries = {
  dir: nonEmptyString,
  maxActive: wholeNumber(1),
  connections: wholeNumber(1, MAX_CONNECTIONS),
  maxConnections: wholeNumber(1),
  maxSpeed: wholeNumber(0),
  maxOverallSpeed: wholeNumber(0),
  trackers: v.array(nodeUrl),
  peers: v.array(nodeUrl),
  lanDiscovery: v.boolean(),
  tlsFingerprints: v.array(v.string()),
};

const changeSchema = v.partial(
  v.strictObject({
    ...plainEntries,
    swarmSecret: v.pipe(
      v.string(),
      v.check(
        (secret) => secret === '' || secret.length >= MIN_SECRET_LENGTH,
        'must be at least 16 characters',
      ),
    ),
    helper: v.partial(helperSchema),
  }),
);

/** The saved settings as the session file holds them: whatever is missing or unreadable takes its default. */
export const savedSettingsSchema = v.partial(
  v.strictObject({ ...plainEntries, helper: v.partial(helperSchema) }),
);

export function defaultSettings(dir: string): SavedSettings {
  return {
    dir,
    maxActive: DEFAULT_MAX_ACTIVE_DOWNLOADS,
    connections: DEFAULT_CONNECTIONS,
    maxConnections: DEFAULT_MAX_TOTAL_CONNECTIONS,
    maxSpeed: 0,
    maxOverallSpeed: 0,
    trackers: [],
    peers: [],
    lanDiscovery: true,
    tlsFingerprints: [],
    // The daemon asks its user (GUI, RPC) before helping, unlike a headless `ddm peer`.
    helper: { enabled: false, accept: 'ask', slots: DEFAULT_PEER_SLOTS, maxUpload: 0 },
  };
}

export interface SettingsStoreOptions {
  /** Defaults with the saved settings over them. */
  saved: SavedSettings;
  overrides: SettingsOverrides;
  /** The swarm secret's file in the state directory. */
  secretFile: string;
  /** Makes the engine and the helper role follow `settings` (throws to refuse them). */
  apply: (settings: DaemonSettings, swarmSecret: string | undefined) => Promise<void>;
  /** Saves the session file (which calls `saved()`); resolves once it is on disk. */
  persist: () => Promise<void>;
}

export class DaemonSettingsStore implements SettingsStore {
  readonly #listeners = new Set<(settings: DaemonSettings) => void>();
  #saved: SavedSettings;
  #overrides: SettingsOverrides;
  #savedSecret: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly options: SettingsStoreOptions,
    savedSecret: string | undefined,
  ) {
    this.#saved = clone(options.saved);
    this.#overrides = clone(options.overrides);
    this.#savedSecret = savedSecret;
  }

  /** Reads the saved secret and applies the effective settings once. */
  static async open(options: SettingsStoreOptions): Promise<DaemonSettingsStore> {
    const store = new DaemonSettingsStore(options, await readSecretFile(options.secretFile));
    checkCoherent(store.get());
    await options.apply(store.get(), store.swarmSecret());
    return store;
  }

  get(): DaemonSettings {
    const secret = this.swarmSecret();
    const { helper, swarmSecret: _, ...plain } = this.#overrides;
    return clone({
      ...this.#saved,
      ...plain,
      helper: { ...this.#saved.helper, ...helper },
      swarmSecretSet: secret !== undefined,
      swarmSecretHint: secret === undefined ? '' : `${secret.slice(0, 4)}…`,
    });
  }

  /** The settings for the session file. */
  saved(): SavedSettings {
    return clone(this.#saved);
  }

  /** The effective swarm secret (a flag's, else the saved one). */
  swarmSecret(): string | undefined {
    return this.#overrides.swarmSecret ?? this.#savedSecret;
  }

  change(changes: SettingsChange): Promise<DaemonSettings> {
    const run = this.#queue.then(() => this.#change(changes));
    this.#queue = run.catch(() => {});
    return run;
  }

  async generateSwarmSecret(): Promise<string> {
    const secret = randomBytes(GENERATED_SWARM_SECRET_BYTES).toString('hex');
    await this.change({ swarmSecret: secret });
    return secret;
  }

  on(listener: (settings: DaemonSettings) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #change(input: SettingsChange): Promise<DaemonSettings> {
    const changes = parseChange(input);
    const saved = clone(this.#saved);
    const overrides = clone(this.#overrides);
    const { helper, swarmSecret, ...plain } = changes;
    Object.assign(saved, plain);
    for (const key of Object.keys(plain)) delete overrides[key as keyof typeof plain];
    if (helper) {
      Object.assign(saved.helper, helper);
      for (const key of Object.keys(helper)) delete overrides.helper?.[key as keyof HelperRoleSettings];
    }
    if (swarmSecret !== undefined) delete overrides.swarmSecret;
    if (plain.tlsFingerprints) saved.tlsFingerprints = plain.tlsFingerprints.map(fingerprintOf);
    const secret = swarmSecret === undefined ? this.#savedSecret : swarmSecret || undefined;
    const previous = { saved: this.#saved, overrides: this.#overrides, secret: this.#savedSecret };
    this.#saved = saved;
    this.#overrides = overrides;
    this.#savedSecret = secret;
    const settings = this.get();
    try {
      checkCoherent(settings);
      await this.options.apply(settings, this.swarmSecret());
    } catch (error) {
      this.#saved = previous.saved;
      this.#overrides = previous.overrides;
      this.#savedSecret = previous.secret;
      throw error;
    }
    if (swarmSecret !== undefined) await writeSecretFile(this.options.secretFile, secret);
    await this.options.persist();
    for (const listener of this.#listeners) listener(clone(settings));
    return settings;
  }
}

function parseChange(input: unknown): v.InferOutput<typeof changeSchema> {
  const parsed = v.safeParse(changeSchema, input ?? {});
  if (parsed.success) return parsed.output;
  const issue = parsed.issues[0];
  // An unknown key's path ends at the key itself; the setting is the path to it.
  if (isUnknownKey(issue)) throw settingError(issuePath(issue), 'is not a setting');
  const key =
    (issue.path ?? [])
      .map((item) => item.key)
      .filter((part) => typeof part === 'string')
      .join('.') || 'settings';
  throw settingError(key, requirementText(issue));
}

function fingerprintOf(text: string): string {
  try {
    return parseFingerprint(text);
  } catch {
    throw settingError(
      'tlsFingerprints',
      `holds ${JSON.stringify(text.slice(0, 120))}, not a SHA-256 fingerprint`,
    );
  }
}

/** Settings that are each valid but cannot hold together. */
function checkCoherent(settings: DaemonSettings): void {
  if (settings.helper.enabled && !settings.swarmSecretSet) {
    throw settingError('helper.enabled', 'needs the swarm secret: set swarmSecret first');
  }
}

/** An error about one setting; `details.key` names it, as request errors do. */
export function settingError(key: string, problem: string): DdmError {
  return new DdmError('USAGE', `${key} ${problem}`, { details: { key, problem } });
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

async function readSecretFile(path: string): Promise<string | undefined> {
  try {
    const secret = (await readFile(path, 'utf8')).trim();
    return secret.length >= MIN_SECRET_LENGTH ? secret : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DdmError('FS_ERROR', `cannot read the swarm secret ${path}: ${(error as Error).message}`);
  }
}

async function writeSecretFile(path: string, secret: string | undefined): Promise<void> {
  if (secret === undefined) {
    await rm(path, { force: true });
    return;
  }
  await replaceFileAtomically(path, `${secret}\n`, new AbortController().signal);
  await chmod(path, 0o600);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}
