/**
 * Where the daemon keeps its session and its RPC secret: $XDG_STATE_HOME/ddm, by default
 * ~/.local/state/ddm. The directory is made private (0700): the secret must stay this user's.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DAEMON_SECRET_BYTES } from '../constants.js';
import { DdmError } from '../errors.js';
import { replaceFileAtomically } from '../storage/durable-write.js';

const PRIVATE_DIR_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;

export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'ddm');
}

export async function ensureStateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    await chmod(dir, PRIVATE_DIR_MODE);
  } catch (error) {
    throw new DdmError('FS_ERROR', `cannot create the state directory ${dir}: ${(error as Error).message}`);
  }
}

/** The RPC secret in `path`, made (and kept mode 0600) on first start. */
export async function loadOrCreateSecret(path: string): Promise<string> {
  try {
    const secret = (await readFile(path, 'utf8')).trim();
    if (secret.length >= 16) {
      await chmod(path, PRIVATE_FILE_MODE);
      return secret;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new DdmError('FS_ERROR', `cannot read the daemon secret ${path}: ${(error as Error).message}`);
    }
  }
  const secret = randomBytes(DAEMON_SECRET_BYTES).toString('hex');
  await replaceFileAtomically(path, `${secret}\n`, new AbortController().signal);
  await chmod(path, PRIVATE_FILE_MODE);
  return secret;
}
