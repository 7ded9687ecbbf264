/**
 * One schema for a download request, wherever it comes from: command-line flags, the config
 * file, an input file, the daemon's API. Errors name the option key (`connections`), never a
 * flag: the CLI maps keys to its flags, an API client sees the key it sent.
 */
import * as v from 'valibot';
import type { DownloadOptions } from '../client/download.js';
import {
  DEFAULT_CONNECTIONS,
  DEFAULT_MAX_HELPERS,
  DEFAULT_MAX_TRIES,
  DEFAULT_TIMEOUT_MS,
  DISCOVERY_BROWSE_TIMEOUT_MS,
  MAX_CONNECTIONS,
  MAX_HELPERS_LIMIT,
  MAX_MIRRORS,
} from '../constants.js';
import { DdmError, type ErrorCode } from '../errors.js';
import { parseChecksum } from '../storage/download-store.js';
import { parseByteRate } from '../util/byte-rate.js';
import { issueKey, isUnknownKey, requirementText, type SchemaIssue } from '../util/schema-issues.js';
import { nonEmptyString, wholeNumber } from '../util/schema-parts.js';

/** Bytes per second: a whole number, or a speed like "500K" or "2M". */
const byteRate = v.pipe(
  v.union([v.number(), v.string()]),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const value = dataset.value;
    const rate = typeof value === 'number' ? value : parseByteRate(value);
    if (typeof value === 'string' && rate === undefined) {
      addIssue({ message: `must be a speed like 500K or 2M, not "${value}"` });
      return NEVER;
    }
    if (!Number.isSafeInteger(rate) || rate! < 0) {
      addIssue({ message: rate! < 0 ? 'must be at least 0' : 'must be a whole number' });
      return NEVER;
    }
    return rate!;
  }),
);

const seconds = v.pipe(v.number(), v.gtValue(0));
const noStrings = (): string[] => [];

export const downloadRequestSchema = v.strictObject({
  url: v.string(),
  /** More URLs of the same file (same size, same bytes), fetched from alongside `url`. */
  mirrors: v.optional(v.pipe(v.array(v.string()), v.maxLength(MAX_MIRRORS)), noStrings),
  /** The file's size as a Metalink gives it: an origin serving another size is refused. */
  size: v.optional(wholeNumber(0)),
  output: v.optional(nonEmptyString),
  dir: v.optional(nonEmptyString),
  /** Create the output's missing folders. */
  createDirs: v.optional(v.boolean(), false),
  connections: v.optional(wholeNumber(1, MAX_CONNECTIONS), DEFAULT_CONNECTIONS),
  /** Extra request headers, each "Name: value". */
  header: v.optional(v.array(v.string()), noStrings),
  /** `algo=hex`. */
  checksum: v.optional(v.string()),
  maxTries: v.optional(wholeNumber(1), DEFAULT_MAX_TRIES),
  /** Seconds. */
  timeout: v.optional(seconds, DEFAULT_TIMEOUT_MS / 1000),
  overwrite: v.optional(v.boolean(), false),
  local: v.optional(v.boolean(), true),
  userAgent: v.optional(nonEmptyString),
  /** Bytes per second for this download (own connections and peers together); 0 = no limit. */
  maxSpeed: v.optional(byteRate, 0),
  /** Let peers help with this download. */
  helpers: v.optional(v.boolean(), true),
  /** Peers recruited at once; the client replaces those that refuse or stay busy. */
  maxHelpers: v.optional(wholeNumber(1, MAX_HELPERS_LIMIT), DEFAULT_MAX_HELPERS),
  tracker: v.optional(v.array(v.string()), noStrings),
  peer: v.optional(v.array(v.string()), noStrings),
  discover: v.optional(v.boolean()),
  /** Seconds. */
  discoverTimeout: v.optional(seconds, DISCOVERY_BROWSE_TIMEOUT_MS / 1000),
  secret: v.optional(v.string()),
  name: v.optional(nonEmptyString),
  /** Decode a content coding the origin forces (one stream, no resume). */
  compressed: v.optional(v.boolean(), false),
  /** PEM file of the CA that signs the https origin's certificate. */
  caCertificate: v.optional(nonEmptyString),
  /** Do not check the https origin's certificate. */
  insecure: v.optional(v.boolean(), false),
  /** Shell command that prints a fresh link when this one expired (client/refresh-command.ts). */
  refreshCmd: v.optional(nonEmptyString),
});

export type DownloadRequestInput = v.InferInput<typeof downloadRequestSchema>;
type RawRequest = v.InferOutput<typeof downloadRequestSchema>;

/** Where peers come from for this download; absent when it is this machine's alone. */
export interface SwarmRequest {
  trackers: string[];
  peers: string[];
  secret: string;
  /** Browse the LAN (mDNS) for peers. */
  discover: boolean;
  discoverTimeoutMs: number;
  clientName: string | undefined;
  /** Helpers recruited at once. */
  maxHelpers: number;
}

/** A checked request: what the core download takes, plus the engine's own settings. */
export interface DownloadRequest {
  /** The request as given, defaults filled in: what a session file stores to redo it. */
  readonly raw: RawRequest;
  readonly options: Omit<DownloadOptions, 'onEvent' | 'swarm' | 'dispatcher' | 'hooks'>;
  readonly swarm: SwarmRequest | undefined;
  readonly maxSpeed: number;
  readonly helpers: boolean;
}

/** An error about one option of a request; `details.key` names it, `details.problem` says what. */
export function requestError(
  key: string,
  problem: string,
  code: ErrorCode = 'USAGE',
  subject = key,
): DdmError {
  return new DdmError(code, `${subject} ${problem}`, { details: { key, problem } });
}

export function parseDownloadRequest(input: unknown): DownloadRequest {
  const parsed = v.safeParse(downloadRequestSchema, input);
  if (!parsed.success) throw fromIssue(parsed.issues[0]);
  const raw = parsed.output;
  const url = checkUrl(raw.url);
  const mirrors = mirrorsOf(url, raw.mirrors);
  const swarm = swarmOf(raw);
  if (swarm === undefined && !raw.local) {
    throw requestError(
      'local',
      'needs peers: give a tracker or a peer, or the swarm secret to find peers on the LAN',
      'USAGE',
      'local=false',
    );
  }
  const options: DownloadRequest['options'] = {
    url,
    mirrors,
    ...(raw.size === undefined ? {} : { size: raw.size }),
    output: raw.output,
    dir: raw.dir,
    createDirs: raw.createDirs,
    connections: raw.connections,
    headers: parseHeaders(raw.header),
    checksum: raw.checksum === undefined ? undefined : checksumOf(raw.checksum),
    maxTries: raw.maxTries,
    timeoutMs: raw.timeout * 1000,
    overwrite: raw.overwrite,
    local: raw.local,
    compressed: raw.compressed,
    originTls: { caFile: raw.caCertificate, insecure: raw.insecure },
    ...(raw.userAgent === undefined ? {} : { userAgent: raw.userAgent }),
  };
  return { raw, options, swarm, maxSpeed: raw.maxSpeed, helpers: raw.helpers };
}

function fromIssue(issue: SchemaIssue): DdmError {
  if (isUnknownKey(issue)) return requestError(String(issue.input), 'is not an option of a download');
  return requestError(issueKey(issue) ?? 'request', requirementText(issue));
}

function swarmOf(raw: RawRequest): SwarmRequest | undefined {
  const { tracker: trackers, peer: peers, secret } = raw;
  if ((trackers.length > 0 || peers.length > 0 || raw.discover === true) && !secret) {
    throw requestError(
      'secret',
      'is needed to use peers: the shared secret of the swarm (`ddm secret` makes one)',
      'NO_SECRET',
    );
  }
  if (secret !== undefined && secret.length < 16) {
    throw requestError('secret', 'must be at least 16 characters; `ddm secret` prints a good one');
  }
  // Without a secret there is no swarm to look for: a plain download of this machine alone.
  const discover = Boolean(secret) && (raw.discover ?? (trackers.length === 0 && peers.length === 0));
  if (!secret || !raw.helpers || (trackers.length === 0 && peers.length === 0 && !discover)) return undefined;
  return {
    trackers,
    peers,
    secret,
    discover,
    discoverTimeoutMs: raw.discoverTimeout * 1000,
    clientName: raw.name,
    maxHelpers: raw.maxHelpers,
  };
}

/** The mirrors as checked URLs, without repeats of the primary URL or of each other. */
function mirrorsOf(url: string, raw: readonly string[]): string[] {
  const seen = new Set([url]);
  const mirrors: string[] = [];
  for (const text of raw) {
    const mirror = checkUrl(text, 'mirrors');
    if (seen.has(mirror)) continue;
    seen.add(mirror);
    mirrors.push(mirror);
  }
  return mirrors;
}

/** A URL of the request checked (http or https), errors naming `key`. */
export function checkUrl(raw: string, key = 'url'): string {
  if (raw.length === 0) throw requestError(key, 'is missing', 'URL_INVALID');
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw requestError(key, `is not a valid URL: ${raw}`, 'URL_INVALID');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw requestError(key, `must be http or https, not ${parsed.protocol.replace(':', '')}`, 'URL_INVALID');
  }
  return parsed.href;
}

function checksumOf(text: string): DownloadOptions['checksum'] {
  try {
    return parseChecksum(text);
  } catch (error) {
    // The storage layer words its message for the flag; the engine speaks of the key.
    const message = error instanceof Error ? error.message : String(error);
    throw requestError('checksum', message.replace(/^--checksum /, ''));
  }
}

function parseHeaders(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw requestError('header', `must look like "Name: value", not "${line}"`);
    }
    const value = line.slice(colon + 1).trim();
    if (/[\r\n\0]/.test(value)) throw requestError('header', `value for ${name} contains a line break`);
    headers[name.toLowerCase()] = value;
  }
  return headers;
}
