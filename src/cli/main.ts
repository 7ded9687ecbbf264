/**
 * The `ddm` command line: parses flags, resolves options (flag > env > config file > default),
 * runs one command, and turns errors into one clear line and a documented exit code.
 */
import type * as Commander from 'commander';
import { DDM_VERSION } from '../constants.js';
import { DdmError, EXIT } from '../errors.js';
import { requirePackage } from '../util/require-package.js';
import { applyProcessV8Flags } from '../util/v8-flags.js';
import { onOutputClosed } from './closed-output.js';
import { defaultConfigPath, loadConfigFile, resolveOptions } from './config.js';
import type { CommandContext } from './context.js';
import { printError } from './error-output.js';
import {
  COMMON_OPTIONS,
  DAEMON_OPTIONS,
  DEMO_OPTIONS,
  GET_OPTIONS,
  type OptionSpec,
  PEER_OPTIONS,
  PEERS_OPTIONS,
  TRACKER_OPTIONS,
} from './option-specs.js';
import { onStopSignals } from './stop-signals.js';

const { Command, CommanderError, Option } = requirePackage<typeof Commander>('commander');

type Handler = (values: Record<string, unknown>, context: CommandContext, args: string[]) => Promise<number>;

interface CommandDefinition {
  name: string;
  summary: string;
  args?: string;
  specs: readonly OptionSpec[];
  handler: Handler;
  /** Whether --secret etc. apply. */
  common: boolean;
  /** Shown after the options in --help. */
  help?: string;
}

/** Commands load on use: `ddm get` starts without loading the peer's and tracker's code. */
function lazy(load: () => Promise<Handler>): Handler {
  return async (values, context, args) => (await load())(values, context, args);
}

const COMMANDS: readonly CommandDefinition[] = [
  {
    name: 'get',
    summary: 'download URL (or several, queued), with peers when a tracker or peer is given',
    args: '[url...]',
    specs: GET_OPTIONS,
    handler: lazy(() => import('./commands/get.js').then((m) => m.runGetCommand)),
    common: true,
  },
  {
    name: 'tracker',
    summary: 'run a tracker that lists the live peers',
    specs: TRACKER_OPTIONS,
    handler: lazy(() => import('./commands/tracker.js').then((m) => m.runTrackerCommand)),
    common: true,
  },
  {
    name: 'peer',
    summary: 'help clients of the swarm download',
    specs: PEER_OPTIONS,
    handler: lazy(() => import('./commands/peer.js').then((m) => m.runPeerCommand)),
    common: true,
  },
  {
    name: 'peers',
    summary: 'list the peers a client would use',
    specs: PEERS_OPTIONS,
    handler: lazy(() => import('./commands/peers.js').then((m) => m.runPeersCommand)),
    common: true,
  },
  {
    name: 'daemon',
    summary:
      "keep a download queue, with the web UI and aria2's JSON-RPC on one port; with --helper also help other machines (session in ~/.local/state/ddm)",
    specs: DAEMON_OPTIONS,
    handler: lazy(() => import('./commands/daemon.js').then((m) => m.runDaemonCommand)),
    common: true,
    help: `
Settings: the daemon keeps its settings (dir, maxActive, trackers, peers, lanDiscovery, the swarm
secret, helper.*) in its session file and applies changes made through its API at once. A flag
given here (or its DDM_* variable or config-file key) wins over the saved setting for this run
only; the saved value comes back at the next start without the flag. A setting changed while
the daemon runs replaces the flag's value and is saved.`,
  },
  {
    name: 'demo',
    summary: 'the whole system on this machine, no setup, no internet',
    specs: DEMO_OPTIONS,
    handler: lazy(() => import('./commands/demo.js').then((m) => m.runDemoCommand)),
    common: true,
  },
  {
    name: 'secret',
    summary: 'print a new random swarm secret',
    specs: [],
    handler: lazy(() => import('./commands/secret.js').then((m) => m.runSecretCommand)),
    common: false,
  },
];

const EXIT_CODES_HELP = `
Exit codes:
  0    success                         4  local file system (exists, disk full, control file)
  1    other failure                   5  checksum mismatch
  2    bad usage, config or variable   6  network failure after all retries
  3    origin refused or changed       7  swarm: authentication, no usable peers
  130  interrupted (run again to resume)`;

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  applyProcessV8Flags();
  let exitCode: number = EXIT.OK;
  const stop = onStopSignals();
  onOutputClosed(process, (name) => stop.stop(new DdmError('ABORTED', `${name} was closed`)));
  const program = new Command('ddm')
    .description('ddm: a distributed download manager for one LAN')
    .version(DDM_VERSION)
    .option('--config <file>', 'config file (default: $XDG_CONFIG_HOME/ddm/config.json)')
    .addHelpText('after', EXIT_CODES_HELP)
    // Commander's own two-line error text is replaced by ddm's one line (see usageError).
    .configureOutput({ outputError: () => undefined })
    .exitOverride();
  for (const definition of COMMANDS) {
    const command = program.command(definition.name).description(definition.summary).exitOverride();
    if (definition.args) command.argument(definition.args);
    for (const spec of [...(definition.common ? COMMON_OPTIONS : []), ...definition.specs])
      command.addOption(toOption(spec));
    if (definition.help) command.addHelpText('after', definition.help);
    command.addHelpText('after', EXIT_CODES_HELP);
    command.action(async (...params: unknown[]) => {
      const cmd = params[params.length - 1] as Commander.Command;
      const configPath = (program.opts().config as string | undefined) ?? env.DDM_CONFIG;
      const config = loadConfigFile(configPath ?? defaultConfigPath(env), configPath !== undefined);
      const values = resolveOptions({
        specs: [...(definition.common ? COMMON_OPTIONS : []), ...definition.specs],
        flags: cmd.opts(),
        fromCommandLine: (key) => cmd.getOptionValueSource(key) === 'cli',
        env,
        config,
        command: definition.name,
      });
      const context: CommandContext = {
        signal: stop.signal,
        env,
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
      };
      exitCode = await definition.handler(values, context, cmd.args);
    });
  }
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version were printed as asked; `ddm` alone printed the help on stderr.
      if (error.exitCode === 0 || error.code === 'commander.help') {
        return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      }
      return printError(usageError(error, argv), process.stderr, false);
    }
    return printError(error, process.stderr, argv.includes('--verbose'));
  } finally {
    stop.dispose();
  }
}

/** Commander's complaint as ddm's one line, with where to read the options. */
function usageError(error: Commander.CommanderError, argv: readonly string[]): DdmError {
  const command = argv.slice(2).find((arg) => COMMANDS.some((definition) => definition.name === arg));
  const help = command === undefined ? 'ddm --help' : `ddm ${command} --help`;
  const message = error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  return new DdmError('USAGE', `${message} (${help} lists the options)`);
}

function toOption(spec: OptionSpec): Commander.Option {
  const shown =
    spec.defaultValue !== undefined &&
    !spec.negated &&
    spec.defaultValue !== false &&
    !(Array.isArray(spec.defaultValue) && spec.defaultValue.length === 0);
  const description = shown
    ? `${spec.description} (default: ${String(spec.defaultValue)})`
    : spec.description;
  const option = new Option(spec.flags, description);
  if (spec.kind === 'list')
    option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  if (spec.choices) option.choices([...spec.choices]);
  return option;
}
