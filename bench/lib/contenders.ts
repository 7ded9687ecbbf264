/** The downloaders being compared, each as the exact command line a user would type. */
import { basename, dirname } from 'node:path';
import { ddmCommand } from './ddm-cli.js';
import type { CommandSpec } from './processes.js';

export interface Contender {
  /** Row name in the result tables. */
  readonly label: string;
  command(url: string, outFile: string): CommandSpec;
}

export const CONNECTIONS = 4;

export function curl(path: string): Contender {
  return { label: 'curl', command: (url, outFile) => ({ command: path, args: ['-s', '-o', outFile, url] }) };
}

export function aria2c(path: string): Contender {
  return {
    label: `aria2c -x${CONNECTIONS}`,
    command: (url, outFile) => ({
      command: path,
      args: [
        `-x${CONNECTIONS}`,
        `-s${CONNECTIONS}`,
        '-k1M',
        '--file-allocation=none',
        '--allow-overwrite=true',
        '-d',
        dirname(outFile),
        '-o',
        basename(outFile),
        url,
        '--console-log-level=error',
        '--summary-interval=0',
      ],
    }),
  };
}

export const DDM_GET_OPTIONS = ['-o', '--connections', '--quiet', '--overwrite'] as const;

export function ddmGet(label = `ddm get --connections ${CONNECTIONS}`): Contender {
  return {
    label,
    command: (url, outFile) =>
      ddmCommand(['get', url, '-o', outFile, '--connections', String(CONNECTIONS), '--quiet', '--overwrite']),
  };
}

export const DDM_SWARM_GET_OPTIONS = [
  '-o',
  '--tracker',
  '--secret',
  '--no-local',
  '--quiet',
  '--overwrite',
] as const;

export function ddmSwarmGet(trackerUrl: string, secret: string, peerCount: number): Contender {
  return {
    label: `ddm get via ${peerCount} peers --no-local`,
    command: (url, outFile) =>
      ddmCommand([
        'get',
        url,
        '-o',
        outFile,
        '--tracker',
        trackerUrl,
        '--secret',
        secret,
        '--no-local',
        '--quiet',
        '--overwrite',
      ]),
  };
}
