import { setMaxListeners } from 'node:events';
import { DdmError } from '../errors.js';

/**
 * SIGINT and SIGTERM abort the returned signal so commands stop cleanly (save progress,
 * deregister). A second signal while stopping exits at once.
 */
export function onStopSignals(): {
  signal: AbortSignal;
  /** Stops the command as a signal would (e.g. its output was closed). */
  stop: (reason: DdmError) => void;
  dispose: () => void;
} {
  const controller = new AbortController();
  // The root of every operation in a command: servers, slots and requests all listen on it.
  setMaxListeners(0, controller.signal);
  const handler = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new DdmError('ABORTED', `interrupted by ${name}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    stop: (reason) => {
      if (!controller.signal.aborted) controller.abort(reason);
    },
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
