/**
 * Typed errors with stable codes. The code is part of the contract: it appears in
 * `--json` events, in one-line CLI errors, and in the wire protocol.
 */

export const EXIT = {
  OK: 0,
  /** Generic failure that no other code describes. */
  FAILURE: 1,
  /** Bad command line, config file or environment variable. */
  USAGE: 2,
  /** The origin refused or misbehaved beyond retrying (4xx, too many redirects, file changed). */
  ORIGIN: 3,
  /** Local file system: disk full, permission, existing file, corrupt control file. */
  FILESYSTEM: 4,
  /** Checksum mismatch. */
  CHECKSUM: 5,
  /** Network: could not reach origin, timeouts after all retries. */
  NETWORK: 6,
  /** Swarm: authentication refused, no usable peers with --no-local. */
  SWARM: 7,
  /** Interrupted by SIGINT or SIGTERM; the download can be resumed. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code of every error code; src/error-policy.ts holds the rest of what a code means. */
export const CODES = {
  USAGE: EXIT.USAGE,
  CONFIG_INVALID: EXIT.USAGE,
  URL_INVALID: EXIT.USAGE,
  /** A Metalink document (`ddm get FILE.meta4`, aria2.addMetalink) is malformed or names no usable file. */
  METALINK_INVALID: EXIT.USAGE,
  /** A daemon's API was asked about something it does not hold (a help request already settled). */
  NOT_FOUND: EXIT.USAGE,
  HTTP_STATUS: EXIT.ORIGIN,
  TOO_MANY_REDIRECTS: EXIT.ORIGIN,
  ORIGIN_CHANGED: EXIT.ORIGIN,
  BAD_RESPONSE: EXIT.ORIGIN,
  RETRY_AFTER_TOO_LONG: EXIT.ORIGIN,
  /** The origin sent a content-coded body (gzip...) that ddm would not save as the file. */
  ENCODED_RESPONSE: EXIT.ORIGIN,
  /** A link that worked for this download now answers 401/403/410: progress is kept for a new link. */
  LINK_EXPIRED: EXIT.ORIGIN,
  /** A new link for a download names another file (size, ETag or Last-Modified differ): refused. */
  LINK_MISMATCH: EXIT.ORIGIN,
  NETWORK: EXIT.NETWORK,
  TIMEOUT: EXIT.NETWORK,
  /** The origin's TLS certificate is not believed (system CAs or --ca-certificate). */
  ORIGIN_TLS: EXIT.NETWORK,
  TRIES_EXHAUSTED: EXIT.NETWORK,
  FILE_EXISTS: EXIT.FILESYSTEM,
  /** Another run is downloading to the same output right now. */
  OUTPUT_LOCKED: EXIT.FILESYSTEM,
  DISK_FULL: EXIT.FILESYSTEM,
  FS_ERROR: EXIT.FILESYSTEM,
  CONTROL_CORRUPT: EXIT.FILESYSTEM,
  CONTROL_FOREIGN: EXIT.FILESYSTEM,
  CHECKSUM_MISMATCH: EXIT.CHECKSUM,
  AUTH_FAILED: EXIT.SWARM,
  /** A tracker's or peer's TLS certificate is not believed (pin, CA or system CAs). */
  TLS_FAILED: EXIT.SWARM,
  NO_SECRET: EXIT.USAGE,
  PEER_REFUSED: EXIT.SWARM,
  PEER_BUSY: EXIT.SWARM,
  PEER_FAILED: EXIT.SWARM,
  PEER_ID_TAKEN: EXIT.SWARM,
  TRACKER_FULL: EXIT.SWARM,
  /** The tracker's shared store (`--store redis://...`) cannot be reached. */
  STORE_UNAVAILABLE: EXIT.NETWORK,
  NO_WORKERS: EXIT.SWARM,
  FORBIDDEN_DESTINATION: EXIT.ORIGIN,
  PROTOCOL: EXIT.SWARM,
  ABORTED: EXIT.INTERRUPTED,
} as const satisfies Record<string, ExitCode>;

export type ErrorCode = keyof typeof CODES;

export class DdmError extends Error {
  override readonly name = 'DdmError';
  readonly code: ErrorCode;
  /** Extra facts for `--json` consumers (status, url, key...). Never holds secrets. */
  readonly details: Record<string, unknown>;
  /** Whether retrying the same operation may succeed. */
  readonly retryable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown>; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    this.retryable = options.retryable ?? false;
  }

  get exitCode(): ExitCode {
    return CODES[this.code];
  }
}

export function isDdmError(error: unknown, code?: ErrorCode): error is DdmError {
  return error instanceof DdmError && (code === undefined || error.code === code);
}

/** Maps Node system errors on local files to typed errors; anything else passes through. */
export function fromFsError(error: unknown, path: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new DdmError('DISK_FULL', `no space left on device while writing ${path}`, { cause: error });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOENT' || code === 'EISDIR') {
    return new DdmError('FS_ERROR', `${path}: ${code}`, { cause: error, details: { errno: code } });
  }
  return error;
}

export function abortError(signal?: AbortSignal): DdmError {
  const reason = signal?.reason;
  if (reason instanceof DdmError) return reason;
  return new DdmError('ABORTED', 'aborted', { cause: reason });
}
