/**
 * One timed download inside the simulated hosts, by ddm or by a baseline tool, with the output
 * checked byte for byte (size and SHA-256) and removed afterwards, so every run starts alike.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { abortedError, BenchError } from '../lib/bench-error.js';
import { sha256File } from '../lib/data-file.js';
import { describeExit, killHostProcess, spawnInHost } from './host-process.js';
import { busyShare, followUsage, machineCpuSnapshot } from './process-meter.js';
import { ARIA2C_CONNECTIONS, CLIENT_HOST } from './settings.js';
import { ddmArgs, type Swarm } from './swarm.js';

export interface SourceFile {
  readonly fileName: string;
  readonly url: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

export interface RunLimits {
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

export interface TimedResult {
  readonly seconds: number;
  /** Of the downloading process, when it could be read from /proc. */
  readonly peakRssKiB?: number;
  readonly cpuSeconds?: number;
  /** Share of all the machine's cores in use during the run, by anyone. */
  readonly machineBusyShare?: number;
}

export interface DdmProgress {
  readonly doneBytes: number;
  readonly sizeBytes: number;
  /** ddm's own smoothed rate. */
  readonly rateBytesPerSecond: number;
  readonly elapsedSeconds: number;
}

interface TimedSpawn {
  readonly label: string;
  readonly host: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly onStdoutLine?: (line: string, elapsedSeconds: number) => void;
}

function secondsSince(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function runTimed(spec: TimedSpawn, limits: RunLimits): Promise<TimedResult> {
  const cpuBefore = await machineCpuSnapshot();
  const started = process.hrtime.bigint();
  const child = spawnInHost(spec.host, spec.label, spec.command, spec.args, {
    onStdoutLine: (line) => spec.onStdoutLine?.(line, secondsSince(started)),
  });
  const usage = followUsage(child);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killHostProcess(child);
  }, limits.timeoutMs);
  const onAbort = () => killHostProcess(child);
  limits.signal.addEventListener('abort', onAbort, { once: true });
  const exit = await child.exited.finally(() => {
    clearTimeout(timer);
    limits.signal.removeEventListener('abort', onAbort);
  });
  const seconds = secondsSince(started);
  const machineBusy = busyShare(cpuBefore, await machineCpuSnapshot());
  if (limits.signal.aborted) throw abortedError(limits.signal);
  if (timedOut) {
    const limit = Math.round(limits.timeoutMs / 1000);
    throw new BenchError('TIMEOUT', `${spec.label} did not finish within ${limit} s`);
  }
  if (exit.code !== 0) {
    throw new BenchError('TOOL_FAILED', `${spec.label} ${describeExit(exit)}:\n${child.outputTail().trim()}`);
  }
  return { seconds, ...usage(), ...(machineBusy === undefined ? {} : { machineBusyShare: machineBusy }) };
}

export async function verifyOutput(label: string, outFile: string, source: SourceFile, signal: AbortSignal) {
  const size = await stat(outFile).then(
    (stats) => stats.size,
    () => undefined,
  );
  if (size !== source.sizeBytes) {
    throw new BenchError(
      'CHECKSUM_MISMATCH',
      `${label}: ${outFile} has ${size ?? 'no file'} bytes, expected ${source.sizeBytes}`,
    );
  }
  const actual = await sha256File(outFile, signal);
  if (actual !== source.sha256) {
    throw new BenchError('CHECKSUM_MISMATCH', `${label}: SHA-256 ${actual}, expected ${source.sha256}`);
  }
}

/** Runs `download` into an empty `outDir`, checks `outFile`, and empties `outDir` again. */
async function checkedRun(
  label: string,
  outDir: string,
  source: SourceFile,
  signal: AbortSignal,
  download: (outFile: string) => Promise<TimedResult>,
): Promise<TimedResult> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const outFile = join(outDir, source.fileName);
  try {
    const result = await download(outFile);
    await verifyOutput(label, outFile, source, signal);
    return result;
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

export interface DdmGetOptions {
  readonly swarm: Swarm;
  /** false adds --no-local: only the helpers download. */
  readonly local: boolean;
  readonly onProgress?: (progress: DdmProgress) => void;
}

export function ddmLabel(local: boolean): string {
  return local ? 'ddm get' : 'ddm get --no-local';
}

function progressFrom(line: string, elapsedSeconds: number): DdmProgress | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const event = JSON.parse(line) as {
      type?: unknown;
      doneBytes?: unknown;
      size?: unknown;
      rateBps?: unknown;
    };
    if (event.type !== 'progress' || typeof event.doneBytes !== 'number' || typeof event.size !== 'number') {
      return undefined;
    }
    const rateBytesPerSecond = typeof event.rateBps === 'number' ? event.rateBps : 0;
    return { doneBytes: event.doneBytes, sizeBytes: event.size, rateBytesPerSecond, elapsedSeconds };
  } catch {
    return undefined;
  }
}

export function ddmGet(
  source: SourceFile,
  outDir: string,
  options: DdmGetOptions,
  limits: RunLimits,
): Promise<TimedResult> {
  const label = ddmLabel(options.local);
  return checkedRun(label, outDir, source, limits.signal, (outFile) => {
    const ddm = ddmArgs([
      'get',
      source.url,
      '-o',
      outFile,
      '--tracker',
      options.swarm.trackerUrl,
      '--secret',
      options.swarm.secret,
      '--json',
      ...(options.local ? [] : ['--no-local']),
    ]);
    const onStdoutLine = (line: string, elapsedSeconds: number) => {
      const progress = progressFrom(line, elapsedSeconds);
      if (progress !== undefined) options.onProgress?.(progress);
    };
    return runTimed({ label, host: CLIENT_HOST, ...ddm, onStdoutLine }, limits);
  });
}

export function aria2cGet(source: SourceFile, outDir: string, limits: RunLimits): Promise<TimedResult> {
  const label = `aria2c -x${ARIA2C_CONNECTIONS}`;
  return checkedRun(label, outDir, source, limits.signal, (outFile) =>
    runTimed(
      {
        label,
        host: CLIENT_HOST,
        command: 'aria2c',
        args: [
          `-x${ARIA2C_CONNECTIONS}`,
          `-s${ARIA2C_CONNECTIONS}`,
          '-k1M',
          '--file-allocation=none',
          '--allow-overwrite=true',
          '--auto-file-renaming=false',
          '--quiet=true',
          '-d',
          dirname(outFile),
          '-o',
          basename(outFile),
          source.url,
        ],
      },
      limits,
    ),
  );
}

export function curlGet(
  host: number,
  source: SourceFile,
  outDir: string,
  limits: RunLimits,
): Promise<TimedResult> {
  const label = `curl on h${host}`;
  return checkedRun(label, outDir, source, limits.signal, (outFile) =>
    runTimed({ label, host, command: 'curl', args: ['-s', '-f', '-o', outFile, source.url] }, limits),
  );
}

/** Equal byte ranges, one per host, in host order; the last one takes the remainder. */
export function equalRanges(sizeBytes: number, parts: number): Array<{ first: number; last: number }> {
  const share = Math.floor(sizeBytes / parts);
  return Array.from({ length: parts }, (_, index) => ({
    first: index * share,
    last: index === parts - 1 ? sizeBytes - 1 : (index + 1) * share - 1,
  }));
}

async function concatenate(parts: readonly string[], outFile: string, signal: AbortSignal): Promise<void> {
  const out = createWriteStream(outFile);
  try {
    for (const part of parts) await pipeline(createReadStream(part), out, { end: false, signal });
  } finally {
    await new Promise<void>((resolve, reject) =>
      out.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }
}

/**
 * What the reference documents do: the file split once into equal ranges, one per host, each
 * fetched with `curl --range` at the same time. Timed until the last range is in; joining the
 * parts afterwards is not timed, which only flatters this baseline.
 */
export function staticSplitGet(
  hosts: readonly number[],
  source: SourceFile,
  outDir: string,
  limits: RunLimits,
): Promise<TimedResult> {
  const label = `static split over ${hosts.length} hosts (curl --range)`;
  return checkedRun(label, outDir, source, limits.signal, async (outFile) => {
    const ranges = equalRanges(source.sizeBytes, hosts.length);
    const partFiles = hosts.map((host) => join(outDir, `${source.fileName}.h${host}`));
    // One failed range ends the others too, rather than leaving them to run out their time.
    const failed = new AbortController();
    const signal = AbortSignal.any([limits.signal, failed.signal]);
    const cpuBefore = await machineCpuSnapshot();
    const started = process.hrtime.bigint();
    await Promise.all(
      hosts.map((host, index) => {
        const range = ranges[index]!;
        const args = [
          '-s',
          '-f',
          '--range',
          `${range.first}-${range.last}`,
          '-o',
          partFiles[index]!,
          source.url,
        ];
        return runTimed(
          { label: `curl --range on h${host}`, host, command: 'curl', args },
          { ...limits, signal },
        );
      }),
    ).catch((error: unknown) => {
      failed.abort(error);
      throw error;
    });
    const seconds = secondsSince(started);
    const machineBusy = busyShare(cpuBefore, await machineCpuSnapshot());
    await concatenate(partFiles, outFile, limits.signal);
    return { seconds, ...(machineBusy === undefined ? {} : { machineBusyShare: machineBusy }) };
  });
}
