/** A one-paragraph description of the machine and tool versions, printed with every result. */
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { SystemTools } from './system-tools.js';
import { versionLine } from './system-tools.js';

export async function describeMachine(tools: SystemTools): Promise<string> {
  const cores = cpus();
  const [nginx, aria2c, curl] = await Promise.all([
    versionLine(tools.nginx, ['-v']),
    versionLine(tools.aria2c, ['--version']),
    versionLine(tools.curl, ['--version']),
  ]);
  // Other work on a 2-core machine moves every figure: say how busy it was.
  const load = loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  return [
    `machine: ${cores.length} cores (${cores[0]?.model.trim() ?? 'unknown CPU'}), ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, load average ${load}`,
    `tools: node ${process.version}; ${nginx}; ${aria2c}; ${curl.split(' ').slice(0, 2).join(' ')}`,
  ].join('\n');
}
