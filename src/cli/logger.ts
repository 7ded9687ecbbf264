import pino, { type Logger } from 'pino';

/** Logs of long-running commands go to stderr as JSON lines; --verbose adds debug detail. */
export function createLogger(name: string, verbose: boolean): Logger {
  return pino({ name, level: verbose ? 'debug' : 'info', base: undefined }, pino.destination(2));
}
