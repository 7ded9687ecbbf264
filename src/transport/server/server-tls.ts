/**
 * The server half of TLS between swarm nodes: a PEM certificate and key turn a node's server into
 * https. Which certificates a client believes is the client half (transport/client/node-trust.ts).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { createServer as createHttpServer, type Server, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { SERVER_HEADERS_TIMEOUT_MS } from '../../constants.js';
import { DdmError } from '../../errors.js';
import { firstCertificate, readOptionFile } from '../pem-files.js';

const MIN_TLS_VERSION = 'TLSv1.2';

export interface ServerTlsFiles {
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

export interface ServerTls {
  /** PEM: the node's certificate, optionally followed by intermediates. */
  cert: Buffer;
  key: Buffer;
  /** SHA-256 fingerprint of the node's certificate as clients pin it: `AB:CD:...`. */
  fingerprint: string;
  /** Expiry as OpenSSL prints it; a pinned certificate is believed after it, a CA-checked one is not. */
  validTo: string;
}

/**
 * Reads `--tls-cert` and `--tls-key`; undefined when neither is given. Throws a DdmError naming
 * the file when one is missing, unreadable, not PEM, encrypted, or not the other's pair.
 */
export async function loadServerTls(
  files: ServerTlsFiles,
  signal: AbortSignal,
): Promise<ServerTls | undefined> {
  const { certFile, keyFile } = files;
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new DdmError('USAGE', '--tls-cert and --tls-key go together: give both or neither');
  }
  const [cert, key] = await Promise.all([
    readOptionFile('--tls-cert', certFile, signal),
    readOptionFile('--tls-key', keyFile, signal),
  ]);
  const certificate = firstCertificate(
    cert,
    `--tls-cert ${certFile}`,
    ' (are --tls-cert and --tls-key swapped?)',
  );
  const privateKey = parsePrivateKey(key, keyFile);
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new DdmError(
      'CONFIG_INVALID',
      `--tls-key ${keyFile} is not the private key of the certificate in --tls-cert ${certFile}`,
    );
  }
  return { cert, key, fingerprint: certificate.fingerprint256, validTo: certificate.validTo };
}

/** A plain http server, or https when `tls` is given; the same options apply to both. */
export function createNodeServer(options: ServerOptions, tls: ServerTls | undefined): Server {
  if (tls === undefined) return createHttpServer(options);
  return createHttpsServer({
    ...options,
    cert: tls.cert,
    key: tls.key,
    minVersion: MIN_TLS_VERSION,
    // The handshake comes before the request headers, so it gets no longer than they do.
    handshakeTimeout: SERVER_HEADERS_TIMEOUT_MS,
  });
}

/** The scheme of a node's URL. */
export function nodeScheme(tls: ServerTls | undefined): 'http' | 'https' {
  return tls === undefined ? 'http' : 'https';
}

function parsePrivateKey(pem: Buffer, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ERR_MISSING_PASSPHRASE'
        ? 'it is encrypted; ddm needs an unencrypted key (openssl pkey -in KEY -out PLAIN.key)'
        : 'it holds no PEM private key';
    throw new DdmError('CONFIG_INVALID', `--tls-key ${file}: ${reason}`, { cause: error });
  }
}
