/**
 * aria2's methods over ddm's engine. Shapes and words as aria2's manual and aria2c itself give
 * them (test/integration/rpc-conformance.test.ts compares the two); every value is a string.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_CONNECTIONS, DEFAULT_MAX_TRIES, DEFAULT_TIMEOUT_MS } from '../constants.js';
import type { DownloadHandle, UriChange } from '../engine/download-handle.js';
import { isDdmError } from '../errors.js';
import { type MetalinkFile, parseMetalink, requestOfMetalinkFile } from '../origin/metalink.js';
import { DDM_VERSION } from '../version.js';
import {
  asStruct,
  liveChangesFromOptions,
  optionError,
  optionsOfRequest,
  requestFromOptions,
} from './aria2-options.js';
import { aria2Files, aria2Servers, aria2Status, aria2Uris } from './aria2-status.js';
import type { RpcDeps } from './deps.js';
import type { DownloadBook } from './download-book.js';
import type { DownloadView } from './download-view.js';
import type { Params } from './params.js';
import { fromDdmError, methodError } from './rpc-error.js';

export type Method = (params: Params, call: CallContext) => unknown;

/** Who calls: a WebSocket session has one (ddm.subscribe needs it). */
export interface CallContext {
  session?: { subscribe(intervalMs: number): void; unsubscribe(): void };
}

export interface MethodEnvironment {
  deps: RpcDeps;
  book: DownloadBook;
}

const OK = 'OK';

export function aria2Methods({ deps, book }: MethodEnvironment): Record<string, Method> {
  const engine = deps.engine;
  const sessionId = randomBytes(20).toString('hex');
  const handleOf = (gid: string) => {
    const view = book.find(gid);
    return { view, handle: engine.get(view.status.id) };
  };
  const changed = () => deps.changed?.();
  const tellWindow = (views: DownloadView[], params: Params) => {
    const offset = params.int(0);
    const num = params.int(1);
    const keys = params.optionalKeys(2);
    return window(views, offset, num).map((view) => aria2Status(view, keys));
  };
  const pause = async (params: Params) => {
    const { view, handle } = handleOf(params.string(0));
    if (!handle || (handle.state !== 'active' && handle.state !== 'waiting')) {
      throw methodError(`GID#${view.status.id} cannot be paused now`);
    }
    await handle.pause();
    return view.status.id;
  };
  const pauseAll = async () => {
    await Promise.all(
      engine
        .list()
        .filter((handle) => handle.state === 'active' || handle.state === 'waiting')
        .map((handle) => handle.pause()),
    );
    return OK;
  };
  const remove = async (params: Params) => {
    const { view, handle } = handleOf(params.string(0));
    if (!handle || !['active', 'waiting', 'paused', 'expired'].includes(handle.state)) {
      throw methodError(`Active Download not found for GID#${view.status.id}`);
    }
    // As aria2: the partial file and its control file stay, so the download can be added again.
    await handle.remove({ keepFiles: true });
    changed();
    return view.status.id;
  };
  const shutdown = () => {
    if (!deps.shutdown) throw methodError('This daemon cannot be shut down over RPC.');
    setImmediate(deps.shutdown);
    return OK;
  };
  const unsupported = (what: string) => () => {
    throw methodError(`ddm downloads over HTTP(S) only: ${what} is not supported.`);
  };

  return {
    'aria2.addUri': (params) => {
      const uris = params.array(0);
      if (uris.length === 0 || !uris.every((uri) => typeof uri === 'string')) {
        throw methodError('The parameter at 0 has wrong type.');
      }
      // As in aria2, several URIs are mirrors of one file: the first is the primary URL.
      const { request, paused } = requestFromOptions(params.optionalStruct(1));
      const position = params.optionalInt(2);
      const handle = addToEngine(deps, { ...request, url: uris[0], mirrors: uris.slice(1) }, paused);
      if (position !== undefined) engine.moveInQueue(handle.id, position);
      changed();
      return handle.id;
    },
    'aria2.addTorrent': unsupported('BitTorrent'),
    // BitTorrent's peers: a running ddm download has none (its helpers are in ddm.getSources).
    'aria2.getPeers': (params) => {
      const { status } = book.find(params.string(0));
      if (status.state !== 'active') throw methodError(`No peer data is available for GID#${status.id}`);
      return [];
    },
    'aria2.addMetalink': (params) => {
      const files = metalinkFiles(params.string(0));
      const { request, paused } = requestFromOptions(params.optionalStruct(1));
      const position = params.optionalInt(2);
      const keep = {
        checksum: request.checksum !== undefined,
        output: request.output !== undefined && files.length === 1,
      };
      const handles = files.map((file) =>
        addToEngine(deps, { ...request, ...requestOfMetalinkFile(file, keep) }, paused),
      );
      if (position !== undefined) {
        for (const [index, handle] of handles.entries()) engine.moveInQueue(handle.id, position + index);
      }
      changed();
      return handles.map((handle) => handle.id);
    },
    'aria2.remove': remove,
    'aria2.pause': pause,
    'aria2.forcePause': pause,
    'aria2.pauseAll': pauseAll,
    'aria2.forcePauseAll': pauseAll,
    'aria2.unpause': (params) => {
      const { view, handle } = handleOf(params.string(0));
      // An expired download is `paused` to aria2: unpausing tries its link again.
      if (handle?.state !== 'paused' && handle?.state !== 'expired')
        throw methodError(`GID#${view.status.id} cannot be unpaused now`);
      handle.resume();
      return view.status.id;
    },
    'aria2.unpauseAll': () => {
      for (const handle of engine.list()) handle.resume();
      return OK;
    },
    'aria2.forceRemove': remove,
    'aria2.changePosition': (params) => {
      const { view, handle } = handleOf(params.string(0));
      const pos = params.int(1);
      const how = params.string(2);
      const queue = book.waiting().map((waiting) => waiting.status.id);
      const current = queue.indexOf(view.status.id);
      if (!handle || current < 0) throw methodError(`GID#${view.status.id} is not in the waiting queue`);
      const base = { POS_SET: 0, POS_CUR: current, POS_END: queue.length - 1 }[how];
      if (base === undefined) throw methodError(`Illegal argument: how must be POS_SET, POS_CUR or POS_END`);
      return engine.moveInQueue(handle.id, base + pos);
    },
    'aria2.tellStatus': (params) => aria2Status(book.find(params.string(0)), params.optionalKeys(1)),
    'aria2.getUris': (params) => {
      const { status } = book.find(params.string(0));
      if (['complete', 'error', 'removed'].includes(status.state)) {
        throw methodError(`No URI data is available for GID#${status.id}`);
      }
      return aria2Uris(status);
    },
    'aria2.getFiles': (params) => aria2Files(book.find(params.string(0))),
    'aria2.getServers': (params) => {
      const { status } = book.find(params.string(0));
      if (status.state !== 'active') throw methodError(`No active download for GID#${status.id}`);
      return [{ index: '1', servers: aria2Servers(status) }];
    },
    'aria2.tellActive': (params) => book.active().map((view) => aria2Status(view, params.optionalKeys(0))),
    'aria2.tellWaiting': (params) => tellWindow(book.waiting(), params),
    'aria2.tellStopped': (params) => tellWindow(book.stopped(), params),
    'aria2.getOption': (params) => {
      const view = book.find(params.string(0));
      return optionsOfRequest(
        {
          ...view.request,
          connections: view.status.options.connections,
          maxSpeed: view.status.options.maxSpeed,
        },
        view.dir,
      );
    },
    'aria2.changeUri': async (params) => {
      const { view, handle } = handleOf(params.string(0));
      const fileIndex = params.int(1);
      const del = params.array(2);
      const add = params.array(3);
      if (fileIndex !== 1) throw methodError(`fileIndex is out of range: GID#${view.status.id} has one file`);
      if (![...del, ...add].every((uri) => typeof uri === 'string')) {
        throw methodError('The parameter at 2 or 3 has wrong type.');
      }
      const position = params.optionalInt(4);
      return changeUri(handle, view, { remove: del as string[], add: add as string[], position }, changed);
    },
    'aria2.changeOption': (params) => {
      const { view, handle } = handleOf(params.string(0));
      const changes = liveChangesFromOptions(params.struct(1));
      if (!handle) throw methodError(`GID#${view.status.id} is over: its options cannot change`);
      try {
        handle.setOptions(changes);
      } catch (error) {
        throw isDdmError(error) ? fromDdmError(error) : error;
      }
      changed();
      return OK;
    },
    'aria2.getGlobalOption': () => {
      const limits = engine.limits();
      const defaults = deps.settings?.get();
      const connections = String(defaults?.connections ?? DEFAULT_CONNECTIONS);
      return {
        dir: deps.dir(),
        'max-concurrent-downloads': String(limits.maxActive),
        'max-overall-download-limit': String(limits.maxSpeed),
        split: connections,
        'max-connection-per-server': connections,
        'max-download-limit': String(defaults?.maxSpeed ?? 0),
        'max-tries': String(DEFAULT_MAX_TRIES),
        timeout: String(DEFAULT_TIMEOUT_MS / 1000),
      };
    },
    'aria2.changeGlobalOption': async (params) => changeGlobalOption(deps, params.struct(0)),
    'aria2.purgeDownloadResult': async () => {
      for (const view of book.stopped()) await book.forget(view);
      return OK;
    },
    'aria2.removeDownloadResult': async (params) => {
      const view = book.find(params.string(0));
      if (!['complete', 'error', 'removed'].includes(view.status.state)) {
        throw methodError(`Could not remove download result of GID#${view.status.id}`);
      }
      await book.forget(view);
      return OK;
    },
    'aria2.getVersion': () => ({ enabledFeatures: ['HTTPS', 'Message Digest'], version: DDM_VERSION }),
    'aria2.getSessionInfo': () => ({ sessionId }),
    'aria2.shutdown': shutdown,
    'aria2.forceShutdown': shutdown,
    'aria2.getGlobalStat': () => {
      const active = book.active();
      const speed = active.reduce((sum, view) => sum + view.status.speedBps, 0);
      const stopped = book.stopped().length;
      return {
        downloadSpeed: String(Math.round(speed)),
        numActive: String(active.length),
        numStopped: String(stopped),
        numStoppedTotal: String(stopped),
        numWaiting: String(book.waiting().length),
        uploadSpeed: '0',
      };
    },
    'aria2.saveSession': async () => {
      if (!deps.saveSession) throw methodError('Filename is not given.');
      await deps.saveSession();
      return OK;
    },
  };
}

/**
 * aria2.changeUri: deletes the URIs in `del`, then inserts `add` at `position` (the end when
 * absent), as aria2 does. Whatever ends up first is the primary link (the probe's and the
 * peers'); a new primary must be the same file (size and ETag or Last-Modified), a new mirror
 * the same size; a refusal (LINK_MISMATCH in `data.code`) leaves the download as it was. An
 * expired download takes its new link and goes on. Answers aria2's [deleted, added].
 */
async function changeUri(
  handle: DownloadHandle | undefined,
  view: DownloadView,
  change: UriChange,
  changed: () => void,
): Promise<[number, number]> {
  if (change.remove.length === 0 && change.add.length === 0) return [0, 0];
  if (!handle) throw methodError(`GID#${view.status.id} is over: its URIs cannot change`);
  try {
    const answer = await handle.changeUris(change);
    changed();
    return answer;
  } catch (error) {
    throw isDdmError(error) ? fromDdmError(error) : error;
  }
}

/** The files of a base64 Metalink 4 document (aria2.addMetalink's first parameter). */
function metalinkFiles(base64: string): MetalinkFile[] {
  try {
    return parseMetalink(Buffer.from(base64, 'base64').toString('utf8'), 'the Metalink').files;
  } catch (error) {
    if (isDdmError(error)) throw fromDdmError(error);
    throw error;
  }
}

/** Adds to the engine; a bad request key fails the call with the reason (which names the key). */
export function addToEngine(deps: RpcDeps, request: Record<string, unknown>, paused = false) {
  refuseRefreshCommand(request);
  try {
    return deps.engine.add(request, { paused });
  } catch (error) {
    if (isDdmError(error)) throw fromDdmError(error);
    throw error;
  }
}

/**
 * `refreshCmd` runs a shell command: that is for the one who starts ddm (its command line, its
 * config file), not for whoever holds the RPC secret, which only lets one download files.
 */
export function refuseRefreshCommand(request: Record<string, unknown>): void {
  if (request.refreshCmd !== undefined) {
    throw methodError(
      'refreshCmd runs a shell command, so it cannot be set over the RPC: give the download a new link with ddm.changeLink or aria2.changeUri',
    );
  }
}

/** aria2's rule: offset from the front, or from the back (counting down) when negative. */
export function window<T>(items: readonly T[], offset: number, num: number): T[] {
  if (num <= 0) return [];
  if (offset >= 0) return items.slice(offset, offset + num);
  const start = items.length + offset;
  const picked: T[] = [];
  for (let index = start; index >= 0 && picked.length < num; index -= 1) {
    if (index < items.length) picked.push(items[index]!);
  }
  return picked;
}

const GLOBAL_OPTIONS: Record<string, { setting: string; parse: (value: unknown) => unknown }> = {
  dir: {
    setting: 'dir',
    parse: (value) => {
      if (typeof value !== 'string' || value.length === 0) throw new Error('bad');
      return value;
    },
  },
  'max-concurrent-downloads': { setting: 'maxActive', parse: (value) => wholeNumber(value, 1) },
  'max-overall-download-limit': {
    setting: 'maxOverallSpeed',
    parse: (value) => requestFromOptions({ 'max-download-limit': value }).request.maxSpeed,
  },
};

/** aria2's global options that ddm has become the daemon's settings (engine limits without a store). */
async function changeGlobalOption(deps: RpcDeps, options: Record<string, unknown>): Promise<string> {
  const settings: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(asStruct(options))) {
    const row = GLOBAL_OPTIONS[name];
    if (!row) continue;
    try {
      settings[row.setting] = row.parse(value);
    } catch {
      throw optionError(name, 'bad value');
    }
  }
  if (Object.keys(settings).length === 0) return OK;
  try {
    if (deps.settings) {
      await deps.settings.change(settings);
    } else {
      if (settings.dir !== undefined)
        throw methodError('This daemon has no settings store: dir cannot change.');
      deps.engine.setLimits({
        ...(settings.maxActive === undefined ? {} : { maxActive: settings.maxActive as number }),
        ...(settings.maxOverallSpeed === undefined ? {} : { maxSpeed: settings.maxOverallSpeed as number }),
      });
    }
  } catch (error) {
    throw isDdmError(error) ? fromDdmError(error) : error;
  }
  deps.changed?.();
  return OK;
}

function wholeNumber(value: unknown, min: number): number {
  const number = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isSafeInteger(number) || number < min) throw new Error('bad');
  return number;
}
