import { EXIT } from '../../errors.js';
import { newSecret } from '../../protocol/auth.js';
import type { CommandContext } from '../context.js';

export async function runSecretCommand(
  _values: Record<string, unknown>,
  context: CommandContext,
): Promise<number> {
  context.stdout.write(`${newSecret()}\n`);
  return EXIT.OK;
}
