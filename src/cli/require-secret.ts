import { DdmError } from '../errors.js';

export function requireSecret(secret: unknown, role: string): string {
  if (typeof secret === 'string' && secret.length > 0) {
    if (secret.length < 16)
      throw new DdmError(
        'USAGE',
        'the swarm secret must be at least 16 characters; `ddm secret` prints a good one',
      );
    return secret;
  }
  throw new DdmError(
    'NO_SECRET',
    `a ${role} needs the swarm secret, so that only your swarm can use it. Make one with \`ddm secret\`, then pass it with --secret, DDM_SECRET, or "secret" in the config file on every machine`,
  );
}
