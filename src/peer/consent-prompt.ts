/**
 * Asking the peer's operator whether to help a client (`--accept ask`). The prompt is a
 * function so that tests, a daemon or a GUI can answer it; the default asks on the terminal.
 */
import { createInterface } from 'node:readline/promises';
import { CONSENT_TTL_MS } from '../constants.js';

export type ConsentAnswer = 'yes' | 'no' | 'always';

export interface ConsentQuestion {
  clientId: string;
  clientName: string;
  /** The client's address as seen on the connection. */
  address: string;
  url: string;
  /** Host (and port) of the URL: where the peer would fetch from. */
  host: string;
  fileName: string;
  size: number | null;
  /** When the offer counts as refused unless answered (ms since the epoch, the desk's clock). */
  expiresAt?: number;
}

/** Resolves to the operator's answer; should give up (any answer) once `signal` aborts. */
export type ConsentPrompt = (question: ConsentQuestion, signal: AbortSignal) => Promise<ConsentAnswer>;

export function consentQuestionText(question: ConsentQuestion): string {
  const size = question.size === null ? 'unknown size' : formatSize(question.size);
  return (
    `Client ${printable(question.clientName)} (${question.address}) asks for help downloading ` +
    `${printable(question.fileName) || '(unnamed file)'} (${size}) from ${printable(question.host)}. ` +
    `Help? [y]es (this client and URL, for ${formatTtl(CONSENT_TTL_MS)}) / [n]o / ` +
    '[a]lways (this client, until the peer stops) '
  );
}

export function parseConsentAnswer(text: string): ConsentAnswer {
  const word = text.trim().toLowerCase();
  if (word === 'y' || word === 'yes') return 'yes';
  if (word === 'a' || word === 'always') return 'always';
  return 'no';
}

export interface TtyPromptStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
}

/**
 * Asks on the terminal. Without a terminal nobody can answer, so the answer is no. The
 * interface is opened per question so an idle peer does not hold the terminal's input.
 */
export function createTtyPrompt(
  streams: TtyPromptStreams = { input: process.stdin, output: process.stderr },
): ConsentPrompt {
  return async (question, signal) => {
    if (streams.input.isTTY !== true || signal.aborted) return 'no';
    const terminal = createInterface({ input: streams.input, output: streams.output });
    try {
      return parseConsentAnswer(await terminal.question(consentQuestionText(question), { signal }));
    } catch {
      streams.output.write('\n(no answer: refused)\n');
      return 'no';
    } finally {
      terminal.close();
    }
  };
}

/** How long a "yes" stands, in words: "an hour", "2 hours", "30 minutes". */
function formatTtl(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes % 60 !== 0) return `${minutes} minutes`;
  const hours = minutes / 60;
  return hours === 1 ? 'an hour' : `${hours} hours`;
}

/** Names come from another machine: no terminal escapes may reach the operator's screen. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
