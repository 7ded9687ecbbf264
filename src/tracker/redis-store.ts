/**
 * Registrations in Redis, shared by every tracker of a swarm pointed at the same server: a key
 * per peer holding its record with a TTL (so Redis itself forgets a peer that stopped beating),
 * a sorted set of ids by expiry for listing, and one per source address for its cap. Each
 * change is one Lua script, so two trackers never half-apply the rules. Listing reads the
 * whole set at most once per TRACKER_LIST_REFRESH_MS per tracker. The nonces of signed requests
 * live here too (a key each, expiring with the replay window), so a request taken by one tracker
 * is refused as a replay by its siblings. A Redis that is down makes
 * the calls fail with STORE_UNAVAILABLE (answered 503), never the tracker crash.
 */
import { createHmac } from 'node:crypto';
import type { createClient as CreateClient } from 'redis';
import {
  STORE_COMMAND_TIMEOUT_MS,
  STORE_CONNECT_TIMEOUT_MS,
  STORE_RECONNECT_MAX_DELAY_MS,
  TRACKER_LIST_REFRESH_MS,
} from '../constants.js';
import { DdmError } from '../errors.js';
import type { SwarmKey } from '../protocol/auth.js';
import type { PeerRecord, RegisterRequest } from '../protocol/messages.js';
import { requirePackage } from '../util/require-package.js';
import { PeerListing, type PreparedBody } from './peer-listing.js';
import { type RemoveResult, sourceOf, type UpsertResult } from './peer-registry.js';
import type { PeerStore } from './peer-store.js';

const { createClient } = requirePackage<{ createClient: typeof CreateClient }>('redis');

export interface RedisStoreOptions {
  url: string;
  ttlMs: number;
  maxPeers: number;
  maxPeersPerSource: number;
  now: () => number;
  /** Names this swarm's keys, so swarms sharing one Redis never see each other's peers. */
  key: SwarmKey;
}

type Client = ReturnType<typeof createClient>;

/** Scores are expiry times (ms); a peer whose score is past is gone. */
const UPSERT = `
local peerKey, all, src = KEYS[1], KEYS[2], KEYS[3]
local id, address, port, record = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local now, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local maxPeers, maxPerSource, prefix = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
redis.call('ZREMRANGEBYSCORE', src, '-inf', now)
local existing = redis.call('GET', peerKey)
local joined = 0
if existing then
  local held = cjson.decode(existing)
  if held.address ~= address then return {'id-taken', held.address} end
  if held.port ~= port then joined = 1 end
else
  joined = 1
  for _, other in ipairs(redis.call('ZRANGE', src, 0, -1)) do
    local text = redis.call('GET', prefix .. other)
    local gone = not text
    if text then
      local held = cjson.decode(text)
      gone = held.address == address and held.port == port
    end
    if gone then
      redis.call('DEL', prefix .. other)
      redis.call('ZREM', all, other)
      redis.call('ZREM', src, other)
    end
  end
  if redis.call('ZCARD', src) >= maxPerSource then return {'source-full'} end
  if redis.call('ZCARD', all) >= maxPeers then
    redis.call('ZREMRANGEBYSCORE', all, '-inf', now)
    if redis.call('ZCARD', all) >= maxPeers then return {'full'} end
  end
end
redis.call('SET', peerKey, record, 'PX', ttl)
redis.call('ZADD', all, now + ttl, id)
redis.call('ZADD', src, now + ttl, id)
redis.call('PEXPIRE', src, ttl)
return {'ok', joined}
`;

const REMOVE = `
local text = redis.call('GET', KEYS[1])
if not text then return 'unknown' end
if cjson.decode(text).address ~= ARGV[2] then return 'other-address' end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 'removed'
`;

/** Ids per MGET while listing: big enough for few round trips, small enough not to stall Redis. */
const LIST_BATCH = 1_000;

/** Connects (failing with STORE_UNAVAILABLE if Redis cannot be reached now) and returns the store. */
export async function openRedisStore(opts: RedisStoreOptions, signal: AbortSignal): Promise<PeerStore> {
  const where = redactStoreUrl(opts.url);
  let connected = false;
  const client: Client = createClient({
    url: opts.url,
    // Fail at once while Redis is away rather than queue requests a peer has stopped waiting for.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: STORE_CONNECT_TIMEOUT_MS,
      // Before the first connection a failure is the operator's to see; after it, keep trying.
      reconnectStrategy: (retries: number, cause: Error) =>
        connected ? Math.min(STORE_RECONNECT_MAX_DELAY_MS, 100 * 2 ** Math.min(retries, 10)) : cause,
    },
  });
  client.on('error', () => {
    // Reported per request as STORE_UNAVAILABLE; without a listener node-redis would crash the process.
  });
  const onAbort = () => void client.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    connected = true;
  } catch (error) {
    client.destroy();
    throw unavailable(where, error);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return new RedisPeerStore(client, opts, where);
}

class RedisPeerStore implements PeerStore {
  readonly #prefix: string;
  readonly #all: string;
  readonly #nonces: string;
  #cached: { listing: PeerListing; at: number } | undefined;
  #reading: Promise<PeerListing> | undefined;

  constructor(
    private readonly client: Client,
    private readonly opts: RedisStoreOptions,
    private readonly where: string,
  ) {
    const swarm = createHmac('sha256', opts.key).update('ddm tracker store').digest('hex').slice(0, 16);
    this.#prefix = `ddm:${swarm}:peer:`;
    this.#all = `ddm:${swarm}:peers`;
    this.#nonces = `ddm:${swarm}:n:`;
  }

  async upsert(info: RegisterRequest, address: string): Promise<UpsertResult> {
    const now = this.opts.now();
    const record: PeerRecord = { ...info, address, lastSeen: now };
    const source = sourceOf(address);
    const answer = (await this.#call((client) =>
      client.eval(UPSERT, {
        keys: [this.#prefix + info.id, this.#all, `${this.#all}:source:${source}`],
        arguments: [
          info.id,
          address,
          String(info.port),
          JSON.stringify(record),
          String(now),
          String(this.opts.ttlMs),
          String(this.opts.maxPeers),
          String(this.opts.maxPeersPerSource),
          this.#prefix,
        ],
      }),
    )) as [string, (string | number)?];
    switch (answer[0]) {
      case 'ok':
        // This tracker's own next listing shows a newcomer at once; the others within a refresh.
        if (answer[1] === 1) this.#cached = undefined;
        return { ok: true, record };
      case 'id-taken':
        return { ok: false, reason: 'id-taken', holder: String(answer[1]) };
      case 'source-full':
        return { ok: false, reason: 'source-full', source };
      default:
        return { ok: false, reason: 'full' };
    }
  }

  async remove(id: string, address: string): Promise<RemoveResult> {
    const outcome = (await this.#call((client) =>
      client.eval(REMOVE, {
        keys: [this.#prefix + id, this.#all, `${this.#all}:source:${sourceOf(address)}`],
        arguments: [id, address],
      }),
    )) as RemoveResult;
    if (outcome === 'removed') this.#cached = undefined;
    return outcome;
  }

  async listing(): Promise<PeerListing> {
    const cached = this.#cached;
    if (cached && this.opts.now() - cached.at < TRACKER_LIST_REFRESH_MS) return cached.listing;
    // Callers arriving while the list is read share the one read.
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async sample(limit: number): Promise<PreparedBody> {
    return (await this.listing()).body(limit);
  }

  async claimNonce(nonce: string, ttlMs: number): Promise<boolean> {
    // SET NX is atomic: of two trackers given the same request, exactly one gets OK.
    const set = await this.#call((client) =>
      client.set(this.#nonces + nonce, '1', { NX: true, PX: Math.max(1, Math.ceil(ttlMs)) }),
    );
    return set === 'OK';
  }

  async prune(): Promise<void> {
    await this.#call((client) => client.zRemRangeByScore(this.#all, '-inf', this.opts.now()));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  async #read(): Promise<PeerListing> {
    const at = this.opts.now();
    const ids = await this.#call((client) => client.zRangeByScore(this.#all, `(${at}`, '+inf'));
    const records: string[] = [];
    for (let start = 0; start < ids.length; start += LIST_BATCH) {
      const keys = ids.slice(start, start + LIST_BATCH).map((id) => this.#prefix + id);
      const texts = await this.#call((client) => client.mGet(keys));
      for (const text of texts) if (typeof text === 'string') records.push(text);
    }
    const listing = new PeerListing(records);
    this.#cached = { listing, at };
    return listing;
  }

  async #call<T>(command: (client: Client) => Promise<T>): Promise<T> {
    try {
      return await command(
        this.client.withAbortSignal(AbortSignal.timeout(STORE_COMMAND_TIMEOUT_MS)) as Client,
      );
    } catch (error) {
      throw unavailable(this.where, error);
    }
  }
}

function unavailable(where: string, error: unknown): DdmError {
  const reason = error instanceof Error ? error.message || error.name : String(error);
  return new DdmError('STORE_UNAVAILABLE', `tracker store ${where} unavailable: ${reason}`, {
    cause: error,
    retryable: true,
    details: { store: where },
  });
}

/** The store URL without its password, for messages and logs. */
export function redactStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return 'redis://?';
  }
}
