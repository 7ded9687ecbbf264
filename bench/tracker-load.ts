/**
 * The signed-peer load of `npm run bench -- tracker`, in a process of its own so that making
 * requests never shares the event loop that times the tracker's answers (bench/tracker.ts).
 * Started as `node --import tsx bench/tracker-load.ts CONFIG-JSON`; it registers every peer,
 * prints one JSON line, waits for SIGUSR2, sends heartbeats at the asked rate for the asked
 * seconds, prints a second JSON line and exits. Peers live 64 to a loopback address (the
 * tracker's per-address cap), each address with its own keep-alive connections.
 */
import { Agent, request } from 'undici';
import { ANY_NODE, deriveKey, type SwarmKey, signRequest } from '../src/protocol/auth.js';
import { API } from '../src/protocol/messages.js';

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
const TICK_MS = 10;
const KEEP_ALIVE_MS = 30_000;

interface Member {
  agent: Agent;
  body: string;
}

interface Tally {
  ok: number;
  refused: number;
  reasons: Record<string, number>;
}

/** Peer n lives at 127.1.X.Y, 64 to an address, each with its own port. */
function makeMembers(first: number, count: number, agents: Agent[]): Member[] {
  const members: Member[] = [];
  for (let n = first; n < first + count; n += 1) {
    const slot = n % PEERS_PER_ADDRESS;
    const host = Math.floor(n / PEERS_PER_ADDRESS) + 1;
    if (slot === 0 || n === first) {
      const localAddress = `127.1.${host >> 8}.${host & 255}`;
      agents.push(
        new Agent({ localAddress, connections: CONNECTIONS_PER_ADDRESS, keepAliveTimeout: KEEP_ALIVE_MS }),
      );
    }
    const id = `bench-${String(n).padStart(6, '0')}`;
    const body = JSON.stringify({ id, name: id, port: 20_000 + slot, slots: 4, version: '0.1.0' });
    members.push({ agent: agents.at(-1)!, body });
  }
  return members;
}

async function signedPost(
  url: string,
  key: SwarmKey,
  path: string,
  member: Member,
): Promise<string | undefined> {
  const target = { authority: new URL(url).host, node: ANY_NODE };
  const headers = {
    ...signRequest(key, 'POST', path, member.body, target),
    'content-type': 'application/json',
  };
  const response = await request(`${url}${path}`, {
    method: 'POST',
    headers,
    body: member.body,
    dispatcher: member.agent,
  });
  const text = await response.body.text();
  if (response.statusCode === 200) return undefined;
  const code = /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? '?';
  return `${response.statusCode} ${code}`;
}

function count(tally: Tally, refusal: string | undefined): void {
  if (refusal === undefined) {
    tally.ok += 1;
    return;
  }
  tally.refused += 1;
  tally.reasons[refusal] = (tally.reasons[refusal] ?? 0) + 1;
}

async function register(config: LoadConfig, key: SwarmKey, members: Member[]): Promise<LoadReport> {
  const tally: Tally = { ok: 0, refused: 0, reasons: {} };
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < members.length) {
      const member = members[next++]!;
      count(
        tally,
        await signedPost(config.url, key, API.register, member).catch((error: Error) => error.message),
      );
    }
  };
  await Promise.all(Array.from({ length: REGISTER_IN_FLIGHT }, worker));
  return { phase: 'registered', ...tally, seconds: (performance.now() - started) / 1000, behind: 0 };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends `rate` heartbeats a second, round-robin over the members, for `seconds`. */
async function sustain(config: LoadConfig, key: SwarmKey, members: Member[]): Promise<LoadReport> {
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
      void signedPost(config.url, key, API.heartbeat, member)
        .catch((error: Error) => `error ${error.message}`)
        .then((refusal) => {
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
  const agents: Agent[] = [];
  const members = makeMembers(config.first, config.peers, agents);
  // A signal listener alone does not keep a process alive: the timer does until the signal comes.
  const waiting = setInterval(() => {}, 60_000);
  const go = new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()));
  process.stdout.write(`${JSON.stringify(await register(config, key, members))}\n`);
  await go;
  clearInterval(waiting);
  process.stdout.write(`${JSON.stringify(await sustain(config, key, members))}\n`);
  await Promise.all(agents.map((agent) => agent.close()));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`tracker-load: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
