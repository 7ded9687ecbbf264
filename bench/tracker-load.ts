/**
 * The signed-peer load of `npm run bench -- tracker`, in a process of its own so that making
 * requests never shares the event loop that times the tracker's answers (bench/tracker.ts).
 * Started as `node --import tsx bench/tracker-load.ts CONFIG-JSON`; it registers every peer,
 * prints one JSON line, waits for SIGUSR2, sends heartbeats at the asked rate for the asked
 * seconds, prints a second JSON line and exits. Peers live 64 to a loopback address (the
 * tracker's per-address cap), each address with its own keep-alive connections.
 */
import { ANY_NODE, deriveKey, type SwarmKey, signRequest } from '../src/protocol/auth.js';
import { API } from '../src/protocol/messages.js';
import { LeanHttpConnection } from './lib/lean-http-client.js';

export interface LoadConfig {
  url: string;
  secret: string;
  /** This generator's peers: numbers first .. first + peers - 1 of the swarm. */
  first: number;
  peers: number;
  /** Heartbeats a second to send once told to start. */
  rate: number;
  seconds: number;
}

/** What each phase reports on its own stdout line. */
export interface LoadReport {
  phase: 'registered' | 'sustained';
  ok: number;
  refused: number;
  /** Refusals by status and code, e.g. `401 AUTH_FAILED`. */
  reasons: Record<string, number>;
  seconds: number;
  /** Heartbeats not sent on time because too many were in flight (the generator fell behind). */
  behind: number;
}

const PEERS_PER_ADDRESS = 64;
const CONNECTIONS_PER_ADDRESS = 2;
const REGISTER_IN_FLIGHT = 64;
const HEARTBEAT_MAX_IN_FLIGHT = 1_024;
/**
 * How often heartbeats that fell due are sent. 10,000 peers beat independently, so their
 * heartbeats arrive spread out; a coarse tick (10 ms) sent them as bursts of ~25 per generator,
 * each burst ~4 ms of the tracker's time that a list asked meanwhile waited behind.
 */
const TICK_MS = 1;
const CONNECT_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** Heartbeat answers are a few hundred bytes. */
const READ_BUFFER_BYTES = 4 * 1024;

interface Member {
  lane: AddressLane;
  body: string;
}

/** A request waiting for a connection of its address, and who hears how it went. */
interface Job {
  path: string;
  member: Member;
  done: (refusal: string | undefined) => void;
}

interface Tally {
  ok: number;
  refused: number;
  reasons: Record<string, number>;
}

/**
 * The keep-alive connections of one loopback address, a request at a time on each, and the
 * requests waiting for one. Lean connections rather than undici's: a general client's per-request
 * objects made each generator cost ~35% of a core, CPU the tracker under test then lacked.
 */
class AddressLane {
  readonly #idle: LeanHttpConnection[] = [];
  readonly #waiting: Job[] = [];
  #open = 0;

  constructor(
    private readonly url: URL,
    private readonly key: SwarmKey,
    private readonly localAddress: string,
  ) {}

  /** Resolves with undefined when the tracker answered 200, else with what it refused (`401 AUTH_FAILED`). */
  post(path: string, member: Member): Promise<string | undefined> {
    return new Promise((done) => {
      this.#waiting.push({ path, member, done });
      this.#pump();
    });
  }

  close(): void {
    for (const connection of this.#idle) connection.close();
  }

  #pump(): void {
    while (this.#waiting.length > 0) {
      const connection = this.#idle.pop();
      if (connection && !connection.usable) {
        this.#open -= 1;
        continue;
      }
      if (connection) {
        void this.#send(connection, this.#waiting.shift()!);
        continue;
      }
      if (this.#open >= CONNECTIONS_PER_ADDRESS) return;
      this.#open += 1;
      LeanHttpConnection.open(
        this.url.hostname,
        Number(this.url.port),
        AbortSignal.timeout(CONNECT_TIMEOUT_MS),
        {
          localAddress: this.localAddress,
          readBufferBytes: READ_BUFFER_BYTES,
        },
      ).then(
        (opened) => {
          this.#idle.push(opened);
          this.#pump();
        },
        (error: Error) => {
          this.#open -= 1;
          this.#waiting.shift()?.done(`error ${error.message}`);
          this.#pump();
        },
      );
    }
  }

  async #send(connection: LeanHttpConnection, job: Job): Promise<void> {
    const target = { authority: this.url.host, node: ANY_NODE };
    const headers = {
      ...signRequest(this.key, 'POST', job.path, job.member.body, target),
      'content-type': 'application/json',
    };
    let refusal: string | undefined;
    try {
      const answer = await connection.request({
        method: 'POST',
        path: job.path,
        headers,
        body: job.member.body,
        timeoutMs: REQUEST_TIMEOUT_MS,
      });
      if (answer.status !== 200)
        refusal = `${answer.status} ${/"code":"([A-Z_]+)"/.exec(answer.bodyStart)?.[1] ?? '?'}`;
    } catch (error) {
      refusal = `error ${(error as Error).message}`;
    }
    this.#idle.push(connection);
    job.done(refusal);
    this.#pump();
  }
}

/** Peer n lives at 127.1.X.Y, 64 to an address, each with its own port. */
function makeMembers(url: URL, key: SwarmKey, first: number, count: number, lanes: AddressLane[]): Member[] {
  const members: Member[] = [];
  for (let n = first; n < first + count; n += 1) {
    const slot = n % PEERS_PER_ADDRESS;
    const host = Math.floor(n / PEERS_PER_ADDRESS) + 1;
    if (slot === 0 || n === first) lanes.push(new AddressLane(url, key, `127.1.${host >> 8}.${host & 255}`));
    const id = `bench-${String(n).padStart(6, '0')}`;
    const body = JSON.stringify({ id, name: id, port: 20_000 + slot, slots: 4, version: '0.1.0' });
    members.push({ lane: lanes.at(-1)!, body });
  }
  return members;
}

function count(tally: Tally, refusal: string | undefined): void {
  if (refusal === undefined) {
    tally.ok += 1;
    return;
  }
  tally.refused += 1;
  tally.reasons[refusal] = (tally.reasons[refusal] ?? 0) + 1;
}

async function register(members: Member[]): Promise<LoadReport> {
  const tally: Tally = { ok: 0, refused: 0, reasons: {} };
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < members.length) {
      const member = members[next++]!;
      count(tally, await member.lane.post(API.register, member));
    }
  };
  await Promise.all(Array.from({ length: REGISTER_IN_FLIGHT }, worker));
  return { phase: 'registered', ...tally, seconds: (performance.now() - started) / 1000, behind: 0 };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends `rate` heartbeats a second, round-robin over the members, for `seconds`. */
async function sustain(config: LoadConfig, members: Member[]): Promise<LoadReport> {
  const tally: Tally = { ok: 0, refused: 0, reasons: {} };
  let inFlight = 0;
  let sent = 0;
  let behind = 0;
  let next = 0;
  let drained: (() => void) | undefined;
  const started = performance.now();
  const endAt = started + config.seconds * 1000;
  while (performance.now() < endAt) {
    const due = Math.floor(((performance.now() - started) / 1000) * config.rate);
    while (sent < due) {
      sent += 1;
      if (inFlight >= HEARTBEAT_MAX_IN_FLIGHT) {
        behind += 1;
        continue;
      }
      const member = members[next]!;
      next = (next + 1) % members.length;
      inFlight += 1;
      void member.lane.post(API.heartbeat, member).then((refusal) => {
        count(tally, refusal);
        inFlight -= 1;
        if (inFlight === 0) drained?.();
      });
    }
    await pause(TICK_MS);
  }
  if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
  return { phase: 'sustained', ...tally, seconds: (performance.now() - started) / 1000, behind };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;
  const key = deriveKey(config.secret);
  const lanes: AddressLane[] = [];
  const members = makeMembers(new URL(config.url), key, config.first, config.peers, lanes);
  // A signal listener alone does not keep a process alive: the timer does until the signal comes.
  const waiting = setInterval(() => {}, 60_000);
  const go = new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()));
  process.stdout.write(`${JSON.stringify(await register(members))}\n`);
  await go;
  clearInterval(waiting);
  process.stdout.write(`${JSON.stringify(await sustain(config, members))}\n`);
  for (const lane of lanes) lane.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`tracker-load: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
