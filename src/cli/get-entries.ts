/**
 * What `ddm get` is asked to download: the URLs on its command line, the local Metalinks among
 * them or given with --metalink (one entry per file), and the entries of an input file (-i).
 */
import { readFile } from 'node:fs/promises';
import { DdmError } from '../errors.js';
import { type InputEntry, parseInputFile } from './input-file.js';

export async function collectEntries(
  values: Record<string, unknown>,
  args: string[],
  notice: (message: string) => void,
): Promise<InputEntry[]> {
  const metalinks = [...((values.metalink as string[] | undefined) ?? []), ...args.filter(isMetalinkPath)];
  const entries: InputEntry[] = args
    .filter((arg) => !isMetalinkPath(arg))
    .map((url, index) => ({ url, options: {}, line: index + 1 }));
  for (const path of metalinks) entries.push(...(await metalinkEntries(path, values, notice)));
  const inputFile = values.inputFile as string | undefined;
  if (inputFile !== undefined) {
    const text = inputFile === '-' ? await readStdin() : await readTextFile(inputFile, 'the input file');
    entries.push(...parseInputFile(text, inputFile === '-' ? 'stdin' : inputFile));
  }
  if (entries.length === 0)
    throw new DdmError('USAGE', 'missing URL: ddm get URL (or -i FILE, or FILE.meta4)');
  if (entries.length > 1 && values.output !== undefined) {
    throw new DdmError('USAGE', '-o names one file: with several URLs use --dir (or out= per URL in -i)');
  }
  return entries;
}

/** A local Metalink given where a URL goes: a path (no scheme) ending .meta4 or .metalink. */
function isMetalinkPath(arg: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(arg) && /\.(meta4|metalink)$/i.test(arg);
}

/** One entry per file of the Metalink; what it leaves out is said as a notice. */
async function metalinkEntries(
  path: string,
  values: Record<string, unknown>,
  notice: (message: string) => void,
): Promise<InputEntry[]> {
  const text = await readTextFile(path, 'the Metalink');
  // Loaded only for a Metalink: its XML parser is ~10 MiB of every plain download's RSS.
  const { parseMetalink, requestOfMetalinkFile } = await import('../origin/metalink.js');
  const metalink = parseMetalink(text, path);
  for (const message of metalink.notices) notice(message);
  const keep = { checksum: values.checksum !== undefined, output: values.output !== undefined };
  return metalink.files.map((file, index) => {
    const { url, ...options } = requestOfMetalinkFile(file, keep);
    return { url: url as string, options, line: index + 1 };
  });
}

async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new DdmError('USAGE', `cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
