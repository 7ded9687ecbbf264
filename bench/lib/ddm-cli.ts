/**
 * How the benchmark calls ddm: always through `node bin/ddm.js`, the command-line contract in
 * DESIGN.md, never through its library, so the numbers are what a user gets. Before measuring we
 * check that the commands and flags we use exist, because the CLI may still be in progress.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { CommandSpec } from './processes.js';
import { cleanEnv } from './processes.js';

const run = promisify(execFile);
const HELP_TIMEOUT_MS = 15_000;

export const DDM_BIN = fileURLToPath(new URL('../../bin/ddm.js', import.meta.url));
const DDM_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export function ddmCommand(args: readonly string[]): CommandSpec {
  return { command: process.execPath, args: [DDM_BIN, ...args] };
}

/** A ddm subcommand and the options the benchmark passes to it. */
export interface DdmUsage {
  readonly command: string;
  readonly options: readonly string[];
}

export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: string };

async function helpText(args: readonly string[]): Promise<{ ok: boolean; text: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [DDM_BIN, ...args], {
      timeout: HELP_TIMEOUT_MS,
      env: cleanEnv(),
    });
    return { ok: true, text: `${stdout}\n${stderr}` };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message?: string };
    return {
      ok: false,
      text: `${failed.stderr ?? ''}${failed.stdout ?? ''}`.trim() || (failed.message ?? ''),
    };
  }
}

/** The line that says what went wrong: Node prints a source location before the error itself. */
function firstLine(text: string): string {
  const lines = text.split('\n').map((line) => line.trim());
  return lines.find((line) => /error/i.test(line)) ?? lines.find((line) => line !== '') ?? '(no output)';
}

/** Checks `ddm --help` and `ddm COMMAND --help` list every option we are about to use. */
export async function probeDdm(usages: readonly DdmUsage[]): Promise<Readiness> {
  const built = await access(DDM_MAIN, constants.R_OK).then(
    () => true,
    () => false,
  );
  if (!built) return { ready: false, reason: 'dist/cli/main.js is missing (the CLI is not built yet)' };
  const global = await helpText(['--help']);
  if (!global.ok) return { ready: false, reason: `\`ddm --help\` failed: ${firstLine(global.text)}` };
  for (const usage of usages) {
    const help = await helpText([usage.command, '--help']);
    if (!help.ok)
      return { ready: false, reason: `\`ddm ${usage.command} --help\` failed: ${firstLine(help.text)}` };
    const known = `${global.text}\n${help.text}`;
    const missing = usage.options.filter((option) => !new RegExp(`(^|[\\s,])${option}\\b`, 'm').test(known));
    if (missing.length > 0) {
      return { ready: false, reason: `\`ddm ${usage.command}\` does not offer ${missing.join(', ')} yet` };
    }
  }
  return { ready: true };
}
