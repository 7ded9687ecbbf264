import { resolve } from 'node:path';
import type { DownloadEvent } from '../../client/events.js';
import { STREAM_WINDOW_BYTES } from '../../constants.js';
import type { DownloadHandle } from '../../engine/download-handle.js';
import { createEngine, type Engine } from '../../engine/engine.js';
import { downloadRequestSchema } from '../../engine/request.js';
import { DdmError, EXIT, isDdmError } from '../../errors.js';
import { loadNodeTrust, type NodeTrust } from '../../transport/client/node-trust.js';
import { parseByteRate } from '../../util/byte-rate.js';
import type { CommandContext } from '../context.js';
import { printError } from '../error-output.js';
import { collectEntries } from '../get-entries.js';
import type { InputEntry } from '../input-file.js';
import { GET_OPTIONS } from '../option-specs.js';
import { humanRenderer } from '../render/human-output.js';
import { jsonLinesRenderer } from '../render/json-lines.js';
import { flagsInText, withFlagNames } from '../request-flags.js';
import { makeStreamFolder, removeStreamFolder, streamDownload } from '../stdout-stream.js';

/** Resolved option values that are keys of a download request, passed on as they are. */
/** The flags that are options of a download request: every key of the one schema but the URL. */
const REQUEST_KEYS = Object.keys(downloadRequestSchema.entries).filter((key) => key !== 'url');

export async function runGetCommand(
  values: Record<string, unknown>,
  context: CommandContext,
  args: string[],
): Promise<number> {
  const json = values.json === true;
  const quiet = values.quiet === true;
  const toStdout = values.output === '-';
  // With `-o -` stdout carries the file's bytes and nothing else.
  const emitJson = json ? jsonLinesRenderer(toStdout ? context.stderr : context.stdout) : undefined;
  const renderers: { stop: () => void }[] = [];
  let trust: NodeTrust | undefined;
  let engine: Engine | undefined;
  let streamFolder: string | undefined;
  try {
    const entries = await collectEntries(values, args, (message) => {
      if (emitJson) emitJson({ type: 'notice', message });
      else if (!quiet) context.stderr.write(`ddm: ${message}\n`);
    });
    if (toStdout) {
      checkStdoutUse(values, entries);
      streamFolder = await makeStreamFolder();
    }
    trust = await loadNodeTrust(
      { fingerprints: values.tlsFingerprint as string[], caFile: values.tlsCa as string | undefined },
      context.signal,
    );
    engine = createEngine({
      signal: context.signal,
      peerDispatcher: trust.dispatcher,
      maxActive: values.maxActive as number,
      maxConnections: values.maxConnections as number,
      maxSpeed: overallSpeed(values.maxOverallSpeed),
      timeoutMs: (values.timeout as number) * 1000,
    });
    const base = requestFrom(values);
    if (streamFolder !== undefined) base.output = streamFolder;
    // One live bar for one download; several at once would fight over the terminal.
    const bar = entries.length === 1;
    const handles: DownloadHandle[] = [];
    for (const entry of entries) {
      const human = !json && !quiet ? humanRenderer(context.stderr, { bar }) : undefined;
      if (human) renderers.push(human);
      const onEvent = (engineEvent: DownloadEvent) => {
        const event = withFlagsInEvent(toStdout ? onStdout(engineEvent) : engineEvent);
        human?.onEvent(event);
        emitJson?.(event);
      };
      const handle = engine.add(entryRequest(base, entry), { onEvent });
      if (toStdout) handle.reading.setWindow(STREAM_WINDOW_BYTES);
      handles.push(handle);
    }
    const waits = toStdout
      ? [streamDownload(handles[0]!, context.stdout, context.signal)]
      : handles.map((handle) => handle.finished());
    const outcomes = await Promise.allSettled(waits);
    for (const renderer of renderers) renderer.stop();
    const settled = toStdout ? outcomes.map(notResumable) : outcomes;
    return exitCodeOf(settled, context, values.verbose === true, emitJson);
  } catch (error) {
    for (const renderer of renderers) renderer.stop();
    return report(withFlagNames(error), context, values.verbose === true, emitJson);
  } finally {
    for (const renderer of renderers) renderer.stop();
    await engine?.close();
    await trust?.close();
    if (streamFolder !== undefined) await removeStreamFolder(streamFolder);
  }
}

/** An interrupted `-o -` has nothing to resume from: its part file goes with its folder. */
function notResumable(outcome: PromiseSettledResult<unknown>): PromiseSettledResult<unknown> {
  if (outcome.status === 'fulfilled' || !isDdmError(outcome.reason, 'ABORTED')) return outcome;
  const reason = new DdmError(
    'ABORTED',
    `${outcome.reason.message} (-o - does not resume: a new run starts over)`,
    {
      cause: outcome.reason,
      details: { ...outcome.reason.details, resumable: false },
    },
  );
  return { status: 'rejected', reason };
}

/** With `-o -` the file's path is a temporary one, gone at the end: events name stdout instead. */
function onStdout(event: DownloadEvent): DownloadEvent {
  return event.type === 'start' || event.type === 'done' ? { ...event, output: 'stdout' } : event;
}

/** `-o -` is one file in order (collectEntries refused several URLs), with no folder to put it in. */
function checkStdoutUse(values: Record<string, unknown>, entries: readonly InputEntry[]): void {
  if (values.dir !== undefined) {
    throw new DdmError('USAGE', '-o - writes to stdout, so --dir has nothing to do: drop one of them');
  }
  if (entries[0]!.options.output !== undefined) {
    throw new DdmError('USAGE', "-o - writes to stdout: the input file's out= cannot name a file as well");
  }
}

function requestFrom(values: Record<string, unknown>): Record<string, unknown> {
  const request: Record<string, unknown> = {};
  for (const key of REQUEST_KEYS) if (values[key] !== undefined) request[key] = values[key];
  for (const spec of GET_OPTIONS) {
    if (spec.requestKey !== undefined && values[spec.key] !== undefined)
      request[spec.requestKey] = values[spec.key];
  }
  return request;
}

/** An input file's `out=` is a name inside the directory, as in aria2. */
function entryRequest(base: Record<string, unknown>, entry: InputEntry): Record<string, unknown> {
  const request: Record<string, unknown> = { ...base, ...entry.options, url: entry.url };
  const out = entry.options.output;
  if (typeof out === 'string' && typeof request.dir === 'string') {
    request.output = resolve(request.dir, out);
    delete request.dir;
  }
  return request;
}

function overallSpeed(value: unknown): number {
  if (value === undefined) return 0;
  const rate = parseByteRate(String(value));
  if (rate === undefined) {
    throw new DdmError(
      'USAGE',
      `--max-overall-speed must be a speed like 500K or 2M, not "${String(value)}"`,
    );
  }
  return rate;
}

/** Every failure is reported; the exit code is the first failure's, or OK. */
function exitCodeOf(
  outcomes: readonly PromiseSettledResult<unknown>[],
  context: CommandContext,
  verbose: boolean,
  emitJson: ((event: DownloadEvent) => void) | undefined,
): number {
  let exitCode: number = EXIT.OK;
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled') continue;
    const code = report(withFlagNames(outcome.reason), context, verbose, emitJson);
    if (exitCode === EXIT.OK) exitCode = code;
  }
  return exitCode;
}

function report(
  error: unknown,
  context: CommandContext,
  verbose: boolean,
  emitJson: ((event: DownloadEvent) => void) | undefined,
): number {
  if (emitJson) {
    const typed = isDdmError(error) ? error : undefined;
    emitJson({
      type: 'error',
      code: typed?.code ?? 'PROTOCOL',
      message: error instanceof Error ? error.message : String(error),
    });
  }
  return printError(error, context.stderr, verbose);
}

/** Notices and errors quote options as the engine names them; here they are flags. */
function withFlagsInEvent(event: DownloadEvent): DownloadEvent {
  if (event.type === 'notice' || event.type === 'error')
    return { ...event, message: flagsInText(event.message) };
  if (event.type === 'peer' && event.message !== undefined)
    return { ...event, message: flagsInText(event.message) };
  return event;
}
