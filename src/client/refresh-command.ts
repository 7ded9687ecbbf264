/**
 * `--refresh-cmd CMD`: the user's way of getting a fresh signed URL when a download's link
 * expired (a cloud CLI, a script that signs again, a portal's API). It runs through the shell,
 * with no terminal (stdin closed, its own session so it cannot open /dev/tty), in the background
 * (the event loop never waits on it), and is killed when it outlives REFRESH_TIMEOUT_MS. The
 * first line it prints is the new link; anything else, a non-zero exit or no line is a failure,
 * told in words with the start of what it said on stderr. The URL it prints is never echoed.
 */
import { spawn } from 'node:child_process';
import { REFRESH_OUTPUT_MAX_BYTES, REFRESH_TIMEOUT_MS } from '../constants.js';
import { DdmError } from '../errors.js';
import { redactUrl } from '../origin/origin-url.js';

export interface RefreshContext {
  /** The link that expired, as DDM_EXPIRED_URL in the command's environment. */
  expiredUrl: string;
  /** Where the file goes, as DDM_OUTPUT, when known. */
  output?: string | undefined;
  timeoutMs?: number;
}

/** Runs `command` and resolves with the http(s) URL on the first line of its output. */
export function runRefreshCommand(
  command: string,
  context: RefreshContext,
  signal: AbortSignal,
): Promise<string> {
  const timeoutMs = context.timeoutMs ?? REFRESH_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(command, {
      shell: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      // A session of its own: no controlling terminal to prompt on, and one group to kill.
      detached: true,
      env: {
        ...process.env,
        DDM_EXPIRED_URL: context.expiredUrl,
        ...(context.output === undefined ? {} : { DDM_OUTPUT: context.output }),
      },
    });
    const stdout = new BoundedText();
    const stderr = new BoundedText();
    child.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
    let failure: DdmError | undefined;
    const kill = (why: DdmError) => {
      failure ??= why;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(
      () => kill(refreshError(`printed no URL within ${timeoutMs / 1000} s and was stopped`)),
      timeoutMs,
    );
    const onAbort = () => kill(new DdmError('ABORTED', 'the refresh command was stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    child.once('error', (error) => {
      done();
      reject(refreshError(`could not be started: ${error.message}`));
    });
    child.once('close', (code, killedBy) => {
      done();
      if (failure) return reject(failure);
      const said = stderr.firstLine().slice(0, 200);
      const quote = said === '' ? '' : ` (it said: ${said})`;
      if (code !== 0) {
        return reject(
          refreshError(`failed with ${code === null ? `signal ${killedBy}` : `exit status ${code}`}${quote}`),
        );
      }
      const line = stdout.firstLine();
      if (line === '') return reject(refreshError(`printed no URL${quote}`));
      if (!isHttpUrl(line)) return reject(refreshError('printed a first line that is not an http(s) URL'));
      resolve(line);
    });
  });
}

function refreshError(what: string): DdmError {
  return new DdmError('LINK_EXPIRED', `the refresh command (refreshCmd) ${what}`);
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && redactUrl(text) !== '…';
  } catch {
    return false;
  }
}

/** Output kept up to REFRESH_OUTPUT_MAX_BYTES: a chatty command cannot fill the memory. */
class BoundedText {
  #chunks: Buffer[] = [];
  #bytes = 0;

  add(chunk: Buffer): void {
    if (this.#bytes >= REFRESH_OUTPUT_MAX_BYTES) return;
    const kept = chunk.subarray(0, REFRESH_OUTPUT_MAX_BYTES - this.#bytes);
    this.#chunks.push(kept);
    this.#bytes += kept.byteLength;
  }

  firstLine(): string {
    const text = Buffer.concat(this.#chunks).toString('utf8');
    return (text.split(/\r?\n/).find((line) => line.trim() !== '') ?? '').trim().slice(0, 4096);
  }
}
