/**
 * `ddm demo`: the whole system on this machine with no setup and no internet. A local origin
 * caps each connection's speed; the same file is fetched with one connection, then with the
 * engine's connections (and, with the swarm, through peers); bytes are checked with SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DownloadOptions } from '../../client/download.js';
import type { DownloadEvent } from '../../client/events.js';
import { discoverSwarm } from '../../client/swarm.js';
import { BYTES, DEFAULT_CONNECTIONS } from '../../constants.js';
import { startDemoOrigin } from '../../demo/demo-origin.js';
import { DEMO_PEER_COUNT, type DemoSwarm, startDemoSwarm } from '../../demo/demo-swarm.js';
import { download } from '../../engine/one-shot-download.js';
import { DdmError, EXIT } from '../../errors.js';
import { formatRate } from '../../util/format.js';
import type { CommandContext } from '../context.js';
import { printError } from '../error-output.js';
import { humanRenderer } from '../render/human-output.js';
import { jsonLinesRenderer } from '../render/json-lines.js';

/** Per-connection cap of the demo origin: slow enough that parallelism shows, fast enough to finish soon. */
const DEMO_CONNECTION_BYTES_PER_SEC = 8 * BYTES.MiB;

interface Run {
  label: string;
  elapsedMs: number;
  sha256: string;
}

export async function runDemoCommand(
  values: Record<string, unknown>,
  context: CommandContext,
): Promise<number> {
  const sizeMiB = values.size as number;
  const json = values.json === true;
  const log = (line: string) => {
    if (!json) context.stderr.write(`${line}\n`);
  };
  const workDir = await mkdtemp(join(tmpdir(), 'ddm-demo-'));
  const data = randomBytes(sizeMiB * BYTES.MiB);
  const expected = createHash('sha256').update(data).digest('hex');
  const origin = await startDemoOrigin(data, DEMO_CONNECTION_BYTES_PER_SEC, context.signal);
  let swarm: DemoSwarm | undefined;
  try {
    log(
      `ddm demo: a ${sizeMiB} MiB file on a local origin capped at ${formatRate(DEMO_CONNECTION_BYTES_PER_SEC)} per connection`,
    );
    log(`ddm demo: sha256 ${expected}`);
    const runs: Run[] = [];
    const fetch = async (label: string, connections: number, swarm?: DemoSwarm) => {
      log(`\n== ${label}`);
      const output = join(workDir, `run-${runs.length + 1}.bin`);
      const human = json ? undefined : humanRenderer(context.stderr);
      const emitJson = json ? jsonLinesRenderer(context.stdout) : undefined;
      const onEvent = (event: DownloadEvent) => {
        human?.onEvent(event);
        emitJson?.({ ...event, ...{ run: label } });
      };
      const options: DownloadOptions = { url: origin.url, output, connections, onEvent };
      if (swarm) {
        options.swarm = (signal) =>
          discoverSwarm(
            {
              trackers: [swarm.trackerUrl],
              peers: [],
              secret: swarm.secret,
              clientName: 'demo-client',
              onEvent,
            },
            signal,
          );
      }
      const result = await download(options, context.signal);
      const sha256 = await sha256File(output, context.signal);
      if (sha256 !== expected)
        throw new DdmError('CHECKSUM_MISMATCH', `${label}: SHA-256 ${sha256}, expected ${expected}`);
      runs.push({ label, elapsedMs: result.elapsedMs, sha256 });
      await rm(output);
    };
    await fetch('one connection', 1);
    await fetch(`this machine alone, ${DEFAULT_CONNECTIONS} connections`, DEFAULT_CONNECTIONS);
    log(`\nddm demo: starting a tracker and ${DEMO_PEER_COUNT} peers on 127.0.0.1`);
    swarm = await startDemoSwarm(context.signal);
    await fetch(`with ${DEMO_PEER_COUNT} peers (tracker)`, DEFAULT_CONNECTIONS, swarm);
    printSummary(runs, sizeMiB, json, context);
    return EXIT.OK;
  } catch (error) {
    return printError(error, context.stderr, values.verbose === true);
  } finally {
    await swarm?.close();
    await origin.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

function printSummary(runs: readonly Run[], sizeMiB: number, json: boolean, context: CommandContext): void {
  const baseline = runs[0]!.elapsedMs;
  if (json) {
    context.stdout.write(
      `${JSON.stringify({ type: 'demo-summary', runs: runs.map((r) => ({ ...r, speedup: baseline / r.elapsedMs })) })}\n`,
    );
    return;
  }
  const alone = runs[1]?.elapsedMs ?? baseline;
  const lines = [
    '',
    'ddm demo: results (every file matched its SHA-256)',
    `  ${'run'.padEnd(36)} ${'time'.padStart(7)}  ${'speed'.padStart(12)}  ${'vs 1 conn'.padStart(9)}  ${'vs alone'.padStart(8)}`,
  ];
  for (const run of runs) {
    const rate = (sizeMiB * BYTES.MiB * 1000) / run.elapsedMs;
    const seconds = `${(run.elapsedMs / 1000).toFixed(2)}s`;
    const vsOne = `${(baseline / run.elapsedMs).toFixed(1)}x`;
    const vsAlone = `${(alone / run.elapsedMs).toFixed(1)}x`;
    lines.push(
      `  ${run.label.padEnd(36)} ${seconds.padStart(7)}  ${formatRate(rate).padStart(12)}  ${vsOne.padStart(9)}  ${vsAlone.padStart(8)}`,
    );
  }
  context.stderr.write(`${lines.join('\n')}\n`);
}

async function sha256File(path: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
