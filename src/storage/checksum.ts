import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { DdmError } from '../errors.js';
import { toStorageError } from './fs-errors.js';

/** Hex digits in each supported digest. */
const HEX_LENGTH = { sha256: 64, sha512: 128, sha1: 40, md5: 32 } as const;

export type ChecksumAlgorithm = keyof typeof HEX_LENGTH;

export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** Lower-case hex digest. */
  hex: string;
}

const ALGORITHMS = Object.keys(HEX_LENGTH) as ChecksumAlgorithm[];

function isAlgorithm(name: string): name is ChecksumAlgorithm {
  return (ALGORITHMS as string[]).includes(name);
}

function usage(message: string, text: string): DdmError {
  return new DdmError(
    'USAGE',
    `--checksum ${message} (expected ALGO=HEX, ALGO one of ${ALGORITHMS.join(', ')})`,
    {
      details: { value: text },
    },
  );
}

/** Parses `--checksum ALGO=HEX`, e.g. `sha256=9f86d0...`; `SHA-256` is accepted for `sha256`. */
export function parseChecksum(text: string): Checksum {
  const separator = text.indexOf('=');
  if (separator < 0) throw usage(`value "${text}" has no "="`, text);
  const name = text.slice(0, separator).trim().toLowerCase().replaceAll('-', '');
  const hex = text
    .slice(separator + 1)
    .trim()
    .toLowerCase();
  if (!isAlgorithm(name)) throw usage(`algorithm "${text.slice(0, separator)}" is not supported`, text);
  if (!/^[0-9a-f]*$/.test(hex)) throw usage(`digest "${hex}" is not hexadecimal`, text);
  const expectedLength = HEX_LENGTH[name];
  if (hex.length !== expectedLength) {
    throw usage(`${name} digest must have ${expectedLength} hex digits, got ${hex.length}`, text);
  }
  return { algorithm: name, hex };
}

/** Hashes a whole file as a stream, so memory stays flat whatever the file size. */
export async function hashFile(
  path: string,
  algorithm: ChecksumAlgorithm,
  signal: AbortSignal,
): Promise<string> {
  const hash = createHash(algorithm);
  try {
    for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
  } catch (error) {
    throw toStorageError(error, path, signal);
  }
  return hash.digest('hex');
}
