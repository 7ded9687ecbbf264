/** Free loopback ports, found by binding port 0, so commands that need a port up front get one. */
import { connect, createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchError, throwIfAborted } from './bench-error.js';

export const LOOPBACK = '127.0.0.1';
const POLL_INTERVAL_MS = 100;

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no port'));
      else resolve(address.port);
    });
  });
}

/** Holds all servers open until every port is read, so the ports are distinct. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(servers.map(listen));
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: LOOPBACK, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Waits until something accepts connections on `port`; `stillAlive` lets the caller stop waiting
 * for a process that has already died.
 */
export async function waitForPort(
  port: number,
  what: string,
  options: { timeoutMs: number; signal: AbortSignal; stillAlive: () => boolean },
): Promise<void> {
  const attempts = Math.ceil(options.timeoutMs / POLL_INTERVAL_MS);
  for (let attempt = 0; attempt < attempts; attempt++) {
    throwIfAborted(options.signal);
    if (await accepts(port)) return;
    if (!options.stillAlive())
      throw new BenchError('TOOL_FAILED', `${what} exited before listening on ${port}`);
    await sleep(POLL_INTERVAL_MS, undefined, { signal: options.signal }).catch(() => undefined);
  }
  throw new BenchError(
    'TIMEOUT',
    `${what} did not listen on ${LOOPBACK}:${port} within ${options.timeoutMs} ms`,
  );
}
