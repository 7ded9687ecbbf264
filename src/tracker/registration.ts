/**
 * A peer's standing with its trackers: register with each, heartbeat as often as the most demanding tracker asks, keep
 * trying a tracker that is down, and deregister from all (within a bound) when stopped.
 */
import type { Logger } from 'pino';
import {
  DEREGISTER_TIMEOUT_MS,
  HEARTBEAT_INTERVAL_MS,
  MIN_HEARTBEAT_INTERVAL_MS,
  REFUSED_REGISTRATION_MAX_BACKOFF_MS,
} from '../constants.js';
import { DdmError, isDdmError } from '../errors.js';
import type { SwarmKey } from '../protocol/auth.js';
import type { RegisterRequest } from '../protocol/messages.js';
import { childController, sleep } from '../util/abort.js';
import { TrackerClient, type TrackerClientOptions } from './tracker-client.js';

export interface RegistrationOptions {
  trackers: readonly string[];
  key: SwarmKey;
  info: RegisterRequest;
  intervalMs?: number;
  log?: Logger;
  onError?: (tracker: string, error: DdmError) => void;
  /** Called after each successful register or heartbeat. */
  onBeat?: (tracker: string) => void;
  client?: TrackerClientOptions;
}

export interface Registration {
  /** Stops heartbeating and deregisters from every tracker; resolves within DEREGISTER_TIMEOUT_MS. */
  stop(): Promise<void>;
}

export function startRegistration(opts: RegistrationOptions, signal: AbortSignal): Registration {
  const clients = opts.trackers.map((url) => new TrackerClient(url, opts.key, opts.client));
  const { controller, dispose } = childController(signal);
  const beating = beat(clients, opts, controller.signal);
  let stopping: Promise<void> | undefined;
  return {
    stop: () => {
      stopping ??= (async () => {
        controller.abort(new DdmError('ABORTED', 'registration stopped'));
        dispose();
        await beating;
        await deregisterAll(clients, opts);
      })();
      return stopping;
    },
  };
}

/** A tracker that refused this peer's secret: how often in a row, and when to ask again. */
interface Refusal {
  count: number;
  retryAt: number;
}

async function beat(
  clients: readonly TrackerClient[],
  opts: RegistrationOptions,
  signal: AbortSignal,
): Promise<void> {
  // Trackers say how often they want a heartbeat; the most demanding one sets the pace.
  const asked = new Map<TrackerClient, number>();
  const registered = new Set<TrackerClient>();
  const refused = new Map<TrackerClient, Refusal>();
  while (!signal.aborted) {
    // The pace known before this round, for a refusal's backoff; the sleep below re-reads it,
    // since a first registration's answer says how often the tracker wants to hear from us.
    const intervalMs = heartbeatInterval(opts.intervalMs, asked);
    await Promise.all(
      clients.map(async (client) => {
        const refusal = refused.get(client);
        if (refusal && Date.now() < refusal.retryAt) return;
        try {
          const answer = registered.has(client)
            ? await client.heartbeat(opts.info, signal)
            : await client.register(opts.info, signal);
          if (!registered.has(client) || refusal) {
            opts.log?.info({ tracker: client.baseUrl }, `registered with tracker ${client.baseUrl}`);
          }
          registered.add(client);
          refused.delete(client);
          asked.set(client, answer.heartbeatMs);
          opts.onBeat?.(client.baseUrl);
        } catch (error) {
          if (signal.aborted) return;
          if (isDdmError(error) && error.code === 'AUTH_FAILED') {
            refuse(client, error, refused, intervalMs, opts);
            return;
          }
          report(client.baseUrl, error, opts);
        }
      }),
    );
    await sleep(heartbeatInterval(opts.intervalMs, asked), signal).catch(() => undefined);
  }
}

/**
 * A wrong secret does not heal by itself: say so once, plainly, and ask less and less often
 * (twice the interval, four times... up to REFUSED_REGISTRATION_MAX_BACKOFF_MS).
 */
function refuse(
  client: TrackerClient,
  error: DdmError,
  refused: Map<TrackerClient, Refusal>,
  intervalMs: number,
  opts: RegistrationOptions,
): void {
  const count = (refused.get(client)?.count ?? 0) + 1;
  const waitMs = Math.min(REFUSED_REGISTRATION_MAX_BACKOFF_MS, intervalMs * 2 ** count);
  refused.set(client, { count, retryAt: Date.now() + waitMs });
  const message =
    `tracker ${client.baseUrl} refuses this peer's secret: give the peer and the tracker the same ` +
    `swarm secret (asking again in ${Math.round(waitMs / 1000)} s, then less often)`;
  if (count === 1) opts.log?.error({ tracker: client.baseUrl, code: error.code }, message);
  else opts.log?.debug({ tracker: client.baseUrl, code: error.code, refusals: count }, message);
  opts.onError?.(client.baseUrl, error);
}

function heartbeatInterval(fixedMs: number | undefined, asked: ReadonlyMap<TrackerClient, number>): number {
  if (fixedMs !== undefined) return fixedMs;
  const fastest = Math.min(HEARTBEAT_INTERVAL_MS, ...asked.values());
  return Math.max(MIN_HEARTBEAT_INTERVAL_MS, fastest);
}

async function deregisterAll(clients: readonly TrackerClient[], opts: RegistrationOptions): Promise<void> {
  const deadline = AbortSignal.timeout(DEREGISTER_TIMEOUT_MS);
  await Promise.all(
    clients.map((client) =>
      client.deregister(opts.info.id, deadline).then(
        () => opts.log?.debug({ tracker: client.baseUrl }, 'deregistered'),
        (error: unknown) => report(client.baseUrl, error, opts),
      ),
    ),
  );
}

function report(tracker: string, error: unknown, opts: RegistrationOptions): void {
  const failure =
    error instanceof DdmError
      ? error
      : new DdmError('NETWORK', String(error), { cause: error, retryable: true });
  opts.log?.warn({ tracker, code: failure.code }, failure.message);
  opts.onError?.(tracker, failure);
}
