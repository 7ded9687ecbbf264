/** Starts real `ddm tracker` and `ddm peer` processes on 127.0.0.1 for end-to-end tests. */
import { type RunningCli, startCli } from './cli.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

export interface Node {
  cli: RunningCli;
  url: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function startNode(args: readonly string[], pattern: RegExp, env: NodeJS.ProcessEnv): Promise<Node> {
  const cli = startCli(args, { DDM_SECRET: TEST_SECRET, ...env });
  const match = await cli.waitFor(pattern, 20_000);
  return {
    cli,
    url: match[1]!,
    stop: async (signal = 'SIGTERM') => {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill(signal);
      await cli.exited;
    },
  };
}

export function startTracker(extra: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Node> {
  return startNode(['tracker', '--listen', '127.0.0.1:0', ...extra], /listening on (http:\/\/\S+)/, env);
}

export function startPeer(
  name: string,
  extra: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<Node> {
  return startNode(
    ['peer', '--listen', '127.0.0.1:0', '--name', name, ...extra],
    /listening on (http:\/\/\S+)/,
    env,
  );
}

/** Stops every node, whatever state it is in (SIGCONT first for frozen ones). */
export async function stopAll(nodes: readonly (Node | undefined)[]): Promise<void> {
  await Promise.all(
    nodes.map(async (node) => {
      if (!node) return;
      node.cli.child.kill('SIGCONT');
      await node.stop('SIGKILL');
    }),
  );
}
