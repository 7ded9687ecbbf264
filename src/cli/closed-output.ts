/**
 * A reader that goes away (`ddm --help | head -1`, `ddm get URL --json | head -1`) must end ddm
 * quietly, as it ends curl: Node ignores SIGPIPE, so without a listener the first write after the
 * reader left throws EPIPE with a stack trace. Any error of stdout or stderr means nobody can read
 * ddm any more: it is told once per stream, and the listener stays for the life of the process
 * because late writes fail again.
 */
export type OutputName = 'stdout' | 'stderr';

export function onOutputClosed(
  streams: Readonly<Record<OutputName, NodeJS.WritableStream>>,
  closed: (name: OutputName) => void,
): void {
  for (const name of ['stdout', 'stderr'] as const) {
    let told = false;
    streams[name].on('error', () => {
      if (told) return;
      told = true;
      closed(name);
    });
  }
}
