/**
 * ddm's own methods (docs/RPC.md): what aria2's vocabulary has no words for, the helpers of a
 * download, its piece map, the swarm, this machine's helper role. Numbers are JSON numbers.
 */
import { basename } from 'node:path';
import { RPC_PROGRESS_DEFAULT_INTERVAL_MS, RPC_PROGRESS_MIN_INTERVAL_MS } from '../constants.js';
import { EARLIER_SOURCE } from '../engine/piece-map.js';
import { parseDownloadRequest } from '../engine/request.js';
import type { DownloadStatus } from '../engine/types.js';
import { isDdmError } from '../errors.js';
import { addToEngine, type Method, type MethodEnvironment, refuseRefreshCommand } from './aria2-methods.js';
import { fromDdmError, methodError } from './rpc-error.js';

const OK = 'OK';
const ANSWERS = new Set(['yes', 'no', 'always']);

export function ddmMethods({ deps, book }: MethodEnvironment): Record<string, Method> {
  const settings = () => {
    if (!deps.settings)
      throw methodError("This daemon has no settings store: ddm's settings are not available.");
    return deps.settings;
  };
  const helper = () => {
    if (!deps.helper) throw methodError('This daemon has no helper role: it cannot serve other machines.');
    return deps.helper;
  };
  const guarded = async <T>(work: () => Promise<T> | T): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw isDdmError(error) ? fromDdmError(error) : error;
    }
  };
  return {
    'ddm.getStatus': (params) => richStatus(book.find(params.string(0)).status),
    'ddm.tellAll': () => book.all().map((view) => view.status),
    'ddm.getSources': (params) => book.find(params.string(0)).status.sources,
    'ddm.getPieceMap': (params) => pieceMap(book.find(params.string(0)).status),
    'ddm.getEvents': (params) => book.events(params.string(0)),
    'ddm.getPreviewUrl': (params) => {
      const gid = book.find(params.string(0)).status.id;
      if (!deps.previewUrl) throw methodError('This daemon serves no previews.');
      return deps.previewUrl(gid);
    },
    'ddm.getCommandLine': (params) => {
      const request = book.find(params.string(0)).request;
      if (!deps.commandLine) throw methodError('this daemon was started without the command-line vocabulary');
      return deps.commandLine(request);
    },
    'ddm.add': (params) => {
      const { urls, paused, ...keys } = params.struct(0);
      if (paused !== undefined && typeof paused !== 'boolean')
        throw methodError('paused must be true or false');
      if (!Array.isArray(urls) || urls.length === 0 || !urls.every((url) => typeof url === 'string')) {
        throw methodError('urls must be a non-empty list of URLs');
      }
      // Every URL is checked before any is added: a bad one adds none.
      const requests = urls.map((url) => ({ ...keys, url }));
      for (const request of requests) {
        refuseRefreshCommand(request);
        try {
          parseDownloadRequest(request);
        } catch (error) {
          throw isDdmError(error) ? fromDdmError(error) : error;
        }
      }
      const gids = requests.map((request) => addToEngine(deps, request, paused === true).id);
      deps.changed?.();
      return gids;
    },
    'ddm.changeLink': (params) =>
      guarded(async () => {
        const view = book.find(params.string(0));
        const handle = deps.engine.get(view.status.id);
        if (!handle) throw methodError(`GID#${view.status.id} is over: its link cannot change`);
        await handle.changeLink(params.string(1));
        deps.changed?.();
        return richStatus(handle.status());
      }),
    'ddm.getSwarm': () => {
      if (!deps.engine.swarm) throw methodError('This daemon does not track a swarm yet.');
      return deps.engine.swarm();
    },
    'ddm.getHelperRole': () => helper().status(),
    'ddm.changeHelperRole': (params) =>
      guarded(async () => {
        const role = helper();
        await settings().change({ helper: params.struct(0) });
        return role.status();
      }),
    'ddm.getHelpRequests': () => helper().pendingRequests(),
    'ddm.answerHelpRequest': (params) =>
      guarded(() => {
        const id = params.string(0);
        const answer = params.string(1);
        if (!ANSWERS.has(answer)) throw methodError('The answer must be yes, no or always.');
        helper().answer(id, answer as 'yes' | 'no' | 'always');
        return OK;
      }),
    'ddm.getSettings': () => settings().get(),
    'ddm.changeSettings': (params) => guarded(() => settings().change(params.struct(0))),
    'ddm.generateSwarmSecret': () => guarded(() => settings().generateSwarmSecret()),
    'ddm.subscribe': (params, call) => {
      if (!call.session) throw methodError('ddm.subscribe works over WebSocket only.');
      const options = params.optionalStruct(0) ?? {};
      const interval = options.intervalMs ?? RPC_PROGRESS_DEFAULT_INTERVAL_MS;
      if (typeof interval !== 'number' || !Number.isFinite(interval)) {
        throw methodError('intervalMs must be a number of milliseconds');
      }
      call.session.subscribe(Math.max(RPC_PROGRESS_MIN_INTERVAL_MS, Math.round(interval)));
      return OK;
    },
    'ddm.unsubscribe': (_params, call) => {
      call.session?.unsubscribe();
      return OK;
    },
  };
}

/** The engine's status, plus what a person asks first: the file's name, time left, helpers. */
export function richStatus(status: DownloadStatus) {
  const left = status.totalBytes === null ? null : Math.max(0, status.totalBytes - status.completedBytes);
  return {
    ...status,
    name: status.output ? basename(status.output) : nameFromUrl(status.url),
    eta:
      left !== null && status.speedBps > 0 && status.state === 'active'
        ? Math.ceil(left / status.speedBps)
        : null,
    helpers: status.sources.filter((source) => source.kind === 'peer' && source.state === 'active').length,
  };
}

function nameFromUrl(url: string): string {
  try {
    const path = new URL(url).pathname;
    return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || url;
  } catch {
    return url;
  }
}

function pieceMap(status: DownloadStatus) {
  const sources = status.sources.map(({ id, label, kind }) => ({ id, label, kind }));
  if (status.pieces.some((piece) => piece.source === EARLIER_SOURCE)) {
    sources.push({ id: EARLIER_SOURCE, label: 'on disk before this run', kind: 'local' });
  }
  return {
    totalLength: status.totalBytes,
    pieces: status.pieces.map(({ start, end, source }) => ({ start, end, source })),
    sources,
  };
}
