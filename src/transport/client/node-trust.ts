/**
 * Optional TLS between swarm nodes. TLS hides URLs and bytes from others on the LAN; the HMAC
 * signatures on top still decide who belongs to the swarm, so TLS never replaces the secret.
 *
 * This is the client half: a NodeTrust decides which https nodes to believe (the server half is
 * transport/server/server-tls.ts). A pinned SHA-256 fingerprint
 * replaces CA validation (a self-signed certificate needs no CA, and a pinned certificate is
 * believed whatever names or dates it carries); a CA file replaces the system's CAs. Pins and a
 * CA add up: a node is believed when either vouches for it. Without either, the system's CAs decide.
 */
import { TLSSocket } from 'node:tls';
import type { buildConnector as Connector, Dispatcher } from 'undici';
import { DdmError, type ErrorCode } from '../../errors.js';
import { Agent, buildConnector } from '../../util/undici-parts.js';
import { firstCertificate, readOptionFile } from '../pem-files.js';

/** The code of every refusal to believe a node's certificate. */
const TLS_FAILURE_CODE: ErrorCode = 'TLS_FAILED';
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export interface NodeTrustOptions {
  /** `--tls-fingerprint`: SHA-256 certificate fingerprints, colon-separated or plain hex. */
  fingerprints?: readonly string[] | undefined;
  /** `--tls-ca`: PEM file of the CA certificates to trust instead of the system's. */
  caFile?: string | undefined;
}

export interface NodeTrust {
  /** Pinned fingerprints, normalised to `AB:CD:...`. */
  readonly fingerprints: readonly string[];
  readonly caFile: string | undefined;
  /** For every request to another node; plain http passes through it untouched. */
  readonly dispatcher: Dispatcher;
  /** Closes the dispatcher's connections, cutting requests still in flight. */
  close(): Promise<void>;
}

/** Builds the trust for `--tls-fingerprint` and `--tls-ca`; with neither, the system's CAs decide. */
export async function loadNodeTrust(options: NodeTrustOptions, signal: AbortSignal): Promise<NodeTrust> {
  const fingerprints = [...new Set((options.fingerprints ?? []).map(parseFingerprint))];
  const { caFile } = options;
  const ca = caFile === undefined ? undefined : await readCaFile(caFile, signal);
  const agent = new Agent({ connect: trustingConnector({ pins: new Set(fingerprints), ca, caFile }) });
  return { fingerprints, caFile, dispatcher: agent, close: () => agent.destroy() };
}

/**
 * Normalises a SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` or Node print it
 * (`AB:CD:...`, with or without `sha256 Fingerprint=`), or as plain hex, to `AB:CD:...`.
 */
export function parseFingerprint(text: string): string {
  const hex = text
    .trim()
    .replace(/^sha-?256(\s+fingerprint)?\s*[=:]\s*/i, '')
    .replace(/[:\s]/g, '');
  if (!/^[0-9a-f]{64}$/i.test(hex)) {
    throw new DdmError(
      'USAGE',
      `--tls-fingerprint ${JSON.stringify(text.slice(0, 120))} is not a SHA-256 fingerprint (64 hex digits, colons allowed)`,
    );
  }
  return hex.toUpperCase().replace(/..(?!$)/g, '$&:');
}

async function readCaFile(file: string, signal: AbortSignal): Promise<string[]> {
  const pem = (await readOptionFile('--tls-ca', file, signal)).toString('utf8');
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new DdmError('CONFIG_INVALID', `--tls-ca ${file} holds no PEM certificate`);
  for (const block of blocks) firstCertificate(Buffer.from(block), `--tls-ca ${file}`, '');
  return blocks;
}

interface TrustRules {
  pins: ReadonlySet<string>;
  /** PEM certificates that replace the system's CAs. */
  ca: string[] | undefined;
  caFile: string | undefined;
}

/**
 * Connects like undici does, then judges the certificate before the connection is handed over,
 * so no request byte (URLs included) reaches a node that is not believed. Chain errors are
 * judged here rather than by OpenSSL, since a pin must override them. No session cache: every
 * connection shows its certificate again.
 */
function trustingConnector(rules: TrustRules): Connector.connector {
  const connect = buildConnector({
    rejectUnauthorized: false,
    maxCachedSessions: 0,
    ...(rules.ca === undefined ? {} : { ca: rules.ca }),
  });
  return (options, callback) => {
    connect(options, (error: Error | null, socket) => {
      if (error !== null || socket === null) {
        callback(error ?? new Error('connection failed'), null);
        return;
      }
      const refusal =
        socket instanceof TLSSocket ? judgeCertificate(socket, rules, options.hostname) : undefined;
      if (refusal === undefined) {
        callback(null, socket);
        return;
      }
      socket.destroy();
      callback(refusal, null);
    });
  };
}

function judgeCertificate(socket: TLSSocket, rules: TrustRules, hostname: string): DdmError | undefined {
  const actual = socket.getPeerX509Certificate()?.fingerprint256 ?? 'none';
  if (rules.pins.has(actual)) return undefined;
  const chainCounts = rules.pins.size === 0 || rules.ca !== undefined;
  if (chainCounts && socket.authorized) return undefined;
  const reason = describeVerifyError(String(socket.authorizationError ?? ''), hostname);
  const expected = [...rules.pins];
  const details = { tls: true, actual, expected, reason };
  if (rules.caFile !== undefined) {
    const pinned = expected.length > 0 ? ` nor pinned (its SHA-256 fingerprint is ${actual})` : '';
    return tlsFailure(
      `TLS certificate not trusted by --tls-ca ${rules.caFile} (${reason})${pinned}`,
      details,
    );
  }
  if (expected.length > 0) {
    return tlsFailure(
      `TLS certificate fingerprint ${actual} does not match --tls-fingerprint ${expected.join(' or ')}`,
      details,
    );
  }
  return tlsFailure(untrustedBySystem(reason, actual), details);
}

function untrustedBySystem(reason: string, actual: string | undefined): string {
  const pin =
    actual === undefined
      ? 'pin its fingerprint with --tls-fingerprint'
      : `pin it with --tls-fingerprint ${actual} if that is the fingerprint the node printed`;
  return `TLS certificate not trusted by the system CAs (${reason}); ${pin}, or trust its CA with --tls-ca`;
}

function tlsFailure(message: string, details: Record<string, unknown>): DdmError {
  return new DdmError(TLS_FAILURE_CODE, message, { details: { ...details, tls: true } });
}

/** OpenSSL's and Node's verification codes, in words. */
function describeVerifyError(code: string, hostname: string): string {
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return 'self-signed certificate';
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'issued by an unknown CA';
    case 'CERT_HAS_EXPIRED':
      return 'certificate expired';
    case 'CERT_NOT_YET_VALID':
      return 'certificate not yet valid';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `certificate does not name ${hostname}`;
    default:
      return code === '' ? 'no certificate' : code;
  }
}

const CHAIN_ERROR_CODES: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** What an https client sees from a plain http server. */
const NOT_TLS_CODES: ReadonlySet<string> = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
]);

/**
 * Turns a failed call to `who` (e.g. `peer at https://...`) into a one-line DdmError when TLS is
 * why: a certificate that is not believed, or a node that does not speak the URL's scheme.
 * Undefined when TLS is not the cause.
 */
export function describeTlsFailure(error: unknown, who: string, baseUrl: string): DdmError | undefined {
  if (error instanceof DdmError) {
    if (error.details.tls !== true) return undefined;
    return new DdmError(error.code, `${who}: ${error.message}`, { details: error.details, cause: error });
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  if (CHAIN_ERROR_CODES.has(code)) {
    const hostname = new URL(baseUrl).hostname;
    return tlsFailure(`${who}: ${untrustedBySystem(describeVerifyError(code, hostname), undefined)}`, {
      reason: code,
    });
  }
  if (NOT_TLS_CODES.has(code)) {
    return new DdmError(
      'NETWORK',
      `${who} does not speak TLS: use an http:// URL, or start that node with --tls-cert and --tls-key`,
      { cause: error },
    );
  }
  return undefined;
}

/**
 * A plain http request to an https node is dropped without an answer; the error alone cannot
 * tell that from a crash, so the message only suggests it.
 */
export function plainToTlsHint(error: unknown, baseUrl: string): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const dropped = code === 'UND_ERR_SOCKET' || code === 'ECONNRESET';
  return dropped && baseUrl.startsWith('http:')
    ? ' (a node started with --tls-cert needs an https:// URL)'
    : '';
}
