/**
 * One table of every option: its flag, environment variable, config-file key and default.
 * Values resolve as flag > DDM_* variable > config file > default.
 */

import {
  DEFAULT_DAEMON_PORT,
  DEFAULT_MAX_ACTIVE_DOWNLOADS,
  DEFAULT_MAX_HELPERS,
  DEFAULT_MAX_TOTAL_CONNECTIONS,
  DEFAULT_PEER_PORT,
  DEFAULT_TRACKER_PORT,
  DISCOVERY_BROWSE_TIMEOUT_MS,
  MAX_CONNECTIONS,
  MAX_HELPERS_LIMIT,
  MAX_PEER_SLOTS,
  MAX_TRACKER_PEERS,
  MAX_TRACKER_PEERS_LIMIT,
  MAX_TRACKER_PEERS_PER_ADDRESS,
} from '../constants.js';

export type OptionKind = 'string' | 'int' | 'bool' | 'list' | 'seconds';

export interface OptionSpec {
  /** Name of the resolved value (camelCase). */
  key: string;
  /** Commander flags, e.g. '-o, --output <file>'. */
  flags: string;
  description: string;
  kind: OptionKind;
  defaultValue?: unknown;
  choices?: readonly string[];
  /** Key in the config file and base of the DDM_* variable when it differs from `key` (negated flags). */
  configKey?: string;
  /** The flag negates the value (`--no-local` sets local=false); env/config `noLocal: true` does too. */
  negated?: boolean;
  /** Largest accepted value of an int or seconds option, checked with the same code as any bad value. */
  max?: number;
  /** The download request's key when it is not `key` (`--mirror`, repeated, fills `mirrors`). */
  requestKey?: string;
}

export function envNameFor(spec: OptionSpec): string {
  const base = spec.configKey ?? spec.key;
  return `DDM_${base.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export function configKeyFor(spec: OptionSpec): string {
  return spec.configKey ?? spec.key;
}

export const COMMON_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'secret',
    flags: '--secret <secret>',
    description: 'shared secret of the swarm (never sent in clear)',
    kind: 'string',
  },
  {
    key: 'verbose',
    flags: '--verbose',
    description: 'show details and stack traces of errors',
    kind: 'bool',
  },
];

/**
 * LAN discovery for `ddm get` and `ddm peers`. Both flags share the key and config key `discover`:
 * commander sets it true or false, DDM_DISCOVER and "discover" in the config file do the same, and
 * left unset it means "on when no --tracker and no --peer is given".
 */
const DISCOVERY_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'discover',
    flags: '--discover',
    description: 'look for peers on the LAN (mDNS) too; the default when no --tracker or --peer is given',
    kind: 'bool',
  },
  {
    key: 'discover',
    flags: '--no-discover',
    description: 'do not look for peers on the LAN',
    kind: 'bool',
  },
  {
    key: 'discoverTimeout',
    flags: '--discover-timeout <seconds>',
    description: 'how long to look for peers on the LAN',
    kind: 'seconds',
    defaultValue: DISCOVERY_BROWSE_TIMEOUT_MS / 1000,
  },
];

/** `ddm tracker` and `ddm peer` serve https with these. */
const SERVER_TLS_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'tlsCert',
    flags: '--tls-cert <file>',
    description: 'serve https with this PEM certificate (with --tls-key)',
    kind: 'string',
  },
  { key: 'tlsKey', flags: '--tls-key <file>', description: 'PEM private key of --tls-cert', kind: 'string' },
];

/** Which https trackers and peers a node believes. */
const CLIENT_TLS_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'tlsFingerprint',
    flags: '--tls-fingerprint <sha256>',
    description: 'believe https nodes whose certificate has this SHA-256 fingerprint (repeatable)',
    kind: 'list',
    defaultValue: [],
  },
  {
    key: 'tlsCa',
    flags: '--tls-ca <file>',
    description: 'believe https nodes whose certificate this PEM CA signed (instead of the system CAs)',
    kind: 'string',
  },
];

/** Speed limits and the queue: `ddm get` with several URLs and `ddm daemon`. */
const QUEUE_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'maxSpeed',
    flags: '--max-speed <rate>',
    description: 'speed limit of each download, e.g. 500K or 2M (bytes per second; 0: none)',
    kind: 'string',
  },
  {
    key: 'maxOverallSpeed',
    flags: '--max-overall-speed <rate>',
    description: 'speed limit of all downloads together (0: none)',
    kind: 'string',
  },
  {
    key: 'maxActive',
    flags: '--max-active <n>',
    description: 'downloads at once; the others wait in the queue',
    kind: 'int',
    defaultValue: DEFAULT_MAX_ACTIVE_DOWNLOADS,
  },
  {
    key: 'maxConnections',
    flags: '--max-connections <n>',
    description: 'connections to origins over all downloads at once',
    kind: 'int',
    defaultValue: DEFAULT_MAX_TOTAL_CONNECTIONS,
  },
];

export const GET_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'output',
    flags: '-o, --output <file>',
    description:
      'write to FILE; `-o -` writes the file to stdout in order while every connection and helper fetches (one URL; no resume: an interrupted stream starts over)',
    kind: 'string',
  },
  {
    key: 'dir',
    flags: '--dir <dir>',
    description: 'write into DIR, with the name from the server',
    kind: 'string',
  },
  {
    key: 'createDirs',
    flags: '--create-dirs',
    description: 'create the folders of the output path that are missing',
    kind: 'bool',
    defaultValue: false,
  },
  {
    key: 'tracker',
    flags: '--tracker <url>',
    description: 'tracker to ask for peers (repeatable)',
    kind: 'list',
    defaultValue: [],
  },
  {
    key: 'peer',
    flags: '--peer <url>',
    description: 'peer to use directly (repeatable)',
    kind: 'list',
    defaultValue: [],
  },
  ...DISCOVERY_OPTIONS,
  {
    key: 'maxHelpers',
    flags: '--max-helpers <n>',
    description: 'peers recruited at once; those that refuse or stay busy are replaced',
    kind: 'int',
    defaultValue: DEFAULT_MAX_HELPERS,
    max: MAX_HELPERS_LIMIT,
  },
  {
    key: 'connections',
    flags: '-c, --connections <n>',
    description: 'connections from this machine to the origin',
    kind: 'int',
    defaultValue: 4,
    max: MAX_CONNECTIONS,
  },
  {
    key: 'mirror',
    requestKey: 'mirrors',
    flags: '--mirror <url>',
    description:
      'another URL of the same file (repeatable): connections spread over the URL and its mirrors; give --checksum with mirrors',
    kind: 'list',
    defaultValue: [],
  },
  {
    key: 'metalink',
    flags: '--metalink <file>',
    description:
      'download the files of a Metalink 4 document (.meta4; RFC 5854): its URLs as mirrors, its size, its hash as --checksum (repeatable; a path ending .meta4 or .metalink given as URL does the same)',
    kind: 'list',
    defaultValue: [],
  },
  {
    key: 'refreshCmd',
    flags: '--refresh-cmd <command>',
    description:
      'when the link expires (401/403/410 after it worked), run this shell command (at most once a minute); its first line of output is the new link, which must be the same file',
    kind: 'string',
  },
  {
    key: 'checksum',
    flags: '--checksum <algo=hex>',
    description: 'verify the file (sha256, sha512, sha1, md5) before it gets its name',
    kind: 'string',
  },
  {
    key: 'header',
    flags: '-H, --header <header>',
    description: 'extra request header "Name: value" (repeatable)',
    kind: 'list',
    defaultValue: [],
  },
  {
    key: 'local',
    flags: '--no-local',
    description: 'fetch only through peers, not from this machine',
    kind: 'bool',
    defaultValue: true,
    configKey: 'noLocal',
    negated: true,
  },
  {
    key: 'json',
    flags: '--json',
    description: 'print newline-delimited JSON events',
    kind: 'bool',
    defaultValue: false,
  },
  {
    key: 'quiet',
    flags: '-q, --quiet',
    description: 'print nothing but errors',
    kind: 'bool',
    defaultValue: false,
  },
  {
    key: 'maxTries',
    flags: '--max-tries <n>',
    description: 'tries per request to the origin',
    kind: 'int',
    defaultValue: 5,
  },
  {
    key: 'timeout',
    flags: '--timeout <seconds>',
    description: 'connect and idle timeout for the origin',
    kind: 'seconds',
    defaultValue: 30,
  },
  {
    key: 'overwrite',
    flags: '--overwrite',
    description: 'replace an existing file and ignore an unusable control file',
    kind: 'bool',
    defaultValue: false,
  },
  {
    key: 'userAgent',
    flags: '--user-agent <ua>',
    description: 'User-Agent sent to the origin',
    kind: 'string',
  },
  {
    key: 'name',
    flags: '--name <name>',
    description: 'this client as peers see it in their prompt',
    kind: 'string',
  },
  {
    key: 'compressed',
    flags: '--compressed',
    description: 'decode a body the origin gzip/deflate/br-encodes anyway (one stream, no resume)',
    kind: 'bool',
    defaultValue: false,
  },
  {
    key: 'caCertificate',
    flags: '--ca-certificate <file>',
    description:
      "believe the https origin's certificate if this PEM CA signed it (instead of the system CAs)",
    kind: 'string',
  },
  {
    key: 'insecure',
    flags: '--insecure',
    description: "do not check the https origin's certificate (prints a warning)",
    kind: 'bool',
    defaultValue: false,
  },
  ...QUEUE_OPTIONS,
  {
    key: 'inputFile',
    flags: '-i, --input-file <file>',
    description: 'download every URL in FILE (one a line, indented "key=value" option lines; - for stdin)',
    kind: 'string',
  },
  ...CLIENT_TLS_OPTIONS,
];

/** How `ddm tracker` and `ddm peer` write their logs on stderr. */
const LOG_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'logFormat',
    flags: '--log-format <format>',
    description: 'logs as text lines or JSON lines; auto: text on a terminal, JSON otherwise',
    kind: 'string',
    defaultValue: 'auto',
    choices: ['auto', 'text', 'json'],
  },
];

export const TRACKER_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'listen',
    flags: '--listen <host:port>',
    description: 'address to listen on',
    kind: 'string',
    defaultValue: `0.0.0.0:${DEFAULT_TRACKER_PORT}`,
  },
  {
    key: 'heartbeat',
    flags: '--heartbeat <seconds>',
    description: 'heartbeat interval asked of peers; a peer expires after about three missed',
    kind: 'seconds',
    defaultValue: 10,
  },
  {
    key: 'store',
    flags: '--store <url>',
    description: 'where registrations live: "memory", or redis://HOST:PORT shared by several trackers',
    kind: 'string',
    defaultValue: 'memory',
  },
  {
    key: 'maxPeers',
    flags: '--max-peers <n>',
    description: 'peers listed at most; sizes the replay memory too',
    kind: 'int',
    defaultValue: MAX_TRACKER_PEERS,
    max: MAX_TRACKER_PEERS_LIMIT,
  },
  {
    key: 'maxPeersPerAddress',
    flags: '--max-peers-per-address <n>',
    description: 'peers listed at most from one address (an IPv6 /64)',
    kind: 'int',
    defaultValue: MAX_TRACKER_PEERS_PER_ADDRESS,
    max: MAX_TRACKER_PEERS_LIMIT,
  },
  ...SERVER_TLS_OPTIONS,
  ...LOG_OPTIONS,
];

export const PEER_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'listen',
    flags: '--listen <host:port>',
    description: 'address to listen on',
    kind: 'string',
    defaultValue: `0.0.0.0:${DEFAULT_PEER_PORT}`,
  },
  {
    key: 'tracker',
    flags: '--tracker <url>',
    description: 'tracker to register with (repeatable)',
    kind: 'list',
    defaultValue: [],
  },
  {
    key: 'name',
    flags: '--name <name>',
    description: 'name shown to clients (default: host name)',
    kind: 'string',
  },
  {
    key: 'accept',
    flags: '--accept <mode>',
    description: 'help clients: auto, ask (prompt on this terminal) or never',
    kind: 'string',
    defaultValue: 'auto',
    choices: ['auto', 'ask', 'never'],
  },
  {
    key: 'slots',
    flags: '--slots <n>',
    description: 'ranges served at once',
    kind: 'int',
    defaultValue: 4,
    max: MAX_PEER_SLOTS,
  },
  {
    key: 'maxUpload',
    flags: '--max-upload <rate>',
    description: 'speed limit of what this peer serves, over all clients, e.g. 2M (0: none)',
    kind: 'string',
  },
  {
    key: 'allowPrivate',
    flags: '--allow-private',
    description: 'let this peer fetch loopback, private and link-local addresses',
    kind: 'bool',
    defaultValue: false,
  },
  {
    key: 'announce',
    flags: '--no-announce',
    description: 'do not announce this peer on the LAN (mDNS)',
    kind: 'bool',
    defaultValue: true,
    configKey: 'noAnnounce',
    negated: true,
  },
  ...SERVER_TLS_OPTIONS,
  ...CLIENT_TLS_OPTIONS,
  ...LOG_OPTIONS,
];

export const PEERS_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'tracker',
    flags: '--tracker <url>',
    description: 'tracker to ask (repeatable)',
    kind: 'list',
    defaultValue: [],
  },
  {
    key: 'peer',
    flags: '--peer <url>',
    description: 'peer to ask directly (repeatable)',
    kind: 'list',
    defaultValue: [],
  },
  ...DISCOVERY_OPTIONS,
  { key: 'json', flags: '--json', description: 'print JSON', kind: 'bool', defaultValue: false },
  ...CLIENT_TLS_OPTIONS,
];

export const DAEMON_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'listen',
    flags: '--listen <host:port>',
    description: 'address of the JSON-RPC, the web UI and the helper (loopback, unless it helps others)',
    kind: 'string',
    defaultValue: `127.0.0.1:${DEFAULT_DAEMON_PORT}`,
  },
  {
    key: 'dir',
    flags: '--dir <dir>',
    description: 'where downloads go unless they name a path (the setting dir)',
    kind: 'string',
  },
  {
    key: 'maxActive',
    flags: '--max-active <n>',
    description: 'downloads at once (the setting maxActive)',
    kind: 'int',
  },
  {
    key: 'helper',
    flags: '--helper',
    description: "also be this machine's peer, on the same port (the setting helper.enabled)",
    kind: 'bool',
  },
  {
    key: 'tracker',
    flags: '--tracker <url>',
    description: 'tracker to find peers on and to register the helper with (repeatable)',
    kind: 'list',
    defaultValue: [],
  },
  {
    key: 'peer',
    flags: '--peer <url>',
    description: 'peer to use directly (repeatable)',
    kind: 'list',
    defaultValue: [],
  },
  {
    key: 'discover',
    flags: '--discover',
    description: 'find peers on the LAN (mDNS) and announce the helper there (the setting lanDiscovery)',
    kind: 'bool',
  },
  {
    key: 'discover',
    flags: '--no-discover',
    description: 'neither browse nor announce on the LAN',
    kind: 'bool',
  },
  {
    key: 'accept',
    flags: '--accept <mode>',
    description: 'the helper helps: auto, ask (a help request to answer in the GUI or RPC) or never',
    kind: 'string',
    choices: ['auto', 'ask', 'never'],
  },
  {
    key: 'slots',
    flags: '--slots <n>',
    description: 'ranges the helper serves at once',
    kind: 'int',
    max: MAX_PEER_SLOTS,
  },
  {
    key: 'maxUpload',
    flags: '--max-upload <rate>',
    description: 'speed limit of what the helper serves, e.g. 2M (0: none)',
    kind: 'string',
  },
  {
    key: 'allowPrivate',
    flags: '--allow-private',
    description: 'let the helper fetch loopback, private and link-local addresses',
    kind: 'bool',
    defaultValue: false,
  },
  {
    key: 'name',
    flags: '--name <name>',
    description: 'the helper as clients see it (default: host name)',
    kind: 'string',
  },
  {
    key: 'stateDir',
    flags: '--state-dir <dir>',
    description: 'session and RPC secret (default: $XDG_STATE_HOME/ddm, ~/.local/state/ddm)',
    kind: 'string',
  },
  {
    key: 'rpcSecret',
    flags: '--rpc-secret <secret>',
    description: "the JSON-RPC's token:SECRET (default: the one in the state directory, made on first start)",
    kind: 'string',
  },
  {
    key: 'rpcAllowOrigin',
    flags: '--rpc-allow-origin <origin>',
    description: 'let web pages of this origin (e.g. http://ariang.example:8080) call the RPC (repeatable)',
    kind: 'list',
    defaultValue: [],
  },
  ...CLIENT_TLS_OPTIONS,
];

export const DEMO_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'size',
    flags: '--size <mib>',
    description: 'size of the demo file in MiB',
    kind: 'int',
    defaultValue: 64,
  },
  {
    key: 'json',
    flags: '--json',
    description: 'print newline-delimited JSON events',
    kind: 'bool',
    defaultValue: false,
  },
];

/** Every key a config file may hold, across commands. */
export function knownConfigKeys(): Set<string> {
  const all = [
    ...COMMON_OPTIONS,
    ...GET_OPTIONS,
    ...TRACKER_OPTIONS,
    ...PEER_OPTIONS,
    ...PEERS_OPTIONS,
    ...DAEMON_OPTIONS,
    ...DEMO_OPTIONS,
  ];
  return new Set(all.map(configKeyFor));
}
