/**
 * Which https origins `ddm get` believes: the system's CAs by default, the CAs of
 * `--ca-certificate FILE` instead, or any certificate with `--insecure`. Swarm nodes have their
 * own trust (transport/client/node-trust.ts): an origin is someone else's server, a node is one of ours.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DdmError } from '../errors.js';
import type { OriginTls } from './http-client.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export interface OriginTlsOptions {
  caFile?: string | undefined;
  insecure?: boolean | undefined;
}

export async function loadOriginTls(options: OriginTlsOptions, signal: AbortSignal): Promise<OriginTls> {
  if (options.insecure && options.caFile !== undefined) {
    throw new DdmError('USAGE', 'give either --ca-certificate FILE or --insecure, not both');
  }
  if (options.insecure) return { insecure: true };
  if (options.caFile === undefined) return {};
  return { ca: await readCertificates(options.caFile, signal) };
}

async function readCertificates(file: string, signal: AbortSignal): Promise<string[]> {
  let pem: string;
  try {
    pem = await readFile(file, { encoding: 'utf8', signal });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new DdmError('CONFIG_INVALID', `--ca-certificate ${file}: cannot read it (${code})`, {
      cause: error,
    });
  }
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new DdmError('CONFIG_INVALID', `--ca-certificate ${file} holds no PEM certificate`);
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new DdmError(
        'CONFIG_INVALID',
        `--ca-certificate ${file} holds a certificate that does not parse`,
        {
          cause: error,
        },
      );
    }
  }
  return blocks;
}
