/** Reading the PEM files that `--tls-cert`, `--tls-key` and `--tls-ca` name, for both halves. */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { abortError, DdmError } from '../errors.js';

export async function readOptionFile(flag: string, file: string, signal: AbortSignal): Promise<Buffer> {
  try {
    return await readFile(file, { signal });
  } catch (error) {
    if (signal.aborted) throw abortError(signal);
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new DdmError('USAGE', `cannot read ${flag} ${file}: ${code}`, { cause: error, details: { file } });
  }
}

export function firstCertificate(pem: Buffer, where: string, hint: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new DdmError('CONFIG_INVALID', `${where} holds no PEM certificate${hint}`, { cause: error });
  }
}
