/**
 * Certificates for TLS tests, made at test time with the openssl command in a temp dir, with the
 * same commands docs/SECURITY.md gives operators. All name 127.0.0.1 and last two days.
 *
 * node.crt/key and other.crt/key: self-signed. ca.crt/key: a CA; leaf.crt/key: signed by it.
 * encrypted.key: node.key under a passphrase. empty.pem: no PEM at all.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const OPENSSL_TIMEOUT_MS = 10_000;
const EC_KEY = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';

export interface TestCertificates {
  dir: string;
  /** Absolute path of a file in the certificate dir. */
  file(name: string): string;
  /** The fingerprint line `openssl x509 -fingerprint -sha256` prints for a certificate. */
  opensslFingerprint(certName: string): Promise<string>;
  remove(): Promise<void>;
}

export async function makeTestCertificates(): Promise<TestCertificates> {
  await run('openssl', ['version'], { timeout: OPENSSL_TIMEOUT_MS }).catch((error: unknown) => {
    assert.fail(`TLS tests need the openssl command (apt-get install openssl): ${String(error)}`);
  });
  const dir = await mkdtemp(join(tmpdir(), 'ddm-tls-'));
  /** `command` is split on spaces, so no argument may hold one. */
  const openssl = async (command: string) =>
    (await run('openssl', command.trim().split(/\s+/), { cwd: dir, timeout: OPENSSL_TIMEOUT_MS })).stdout;
  const selfSigned = (name: string) =>
    openssl(`req -x509 ${EC_KEY} -days 2 -subj /CN=${name} -addext subjectAltName=IP:127.0.0.1
      -keyout ${name}.key -out ${name}.crt`);
  const caAndLeaf = async () => {
    await openssl(`req -x509 ${EC_KEY} -days 2 -subj /CN=ddm-test-CA
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
      -keyout ca.key -out ca.crt`);
    await openssl(`req ${EC_KEY} -subj /CN=leaf -keyout leaf.key -out leaf.csr`);
    await writeFile(
      join(dir, 'leaf.ext'),
      'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
    );
    await openssl(`x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2
      -extfile leaf.ext -out leaf.crt`);
  };
  try {
    await Promise.all([selfSigned('node'), selfSigned('other'), caAndLeaf()]);
    await openssl('pkey -in node.key -aes256 -passout pass:secret -out encrypted.key');
    await writeFile(join(dir, 'empty.pem'), 'no certificate here\n');
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    file: (name) => join(dir, name),
    opensslFingerprint: async (certName) =>
      (await openssl(`x509 -in ${certName} -noout -fingerprint -sha256`)).trim(),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
