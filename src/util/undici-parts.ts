/**
 * The parts of undici that ddm uses, loaded one by one. Its index also loads fetch, WebSocket,
 * EventSource, the cache stores, the mock agents and every interceptor: about 30 ms of CPU and
 * 4 MiB more at every start here, for code no command runs. Same modules, so `instanceof` against
 * the index's classes (tests, other packages) still holds.
 */

import type * as Undici from 'undici';
import type { Dispatcher as DispatcherType } from 'undici';
import { requirePackage } from './require-package.js';

const api = requirePackage<object>('undici/lib/api/index.js');
const buildConnector = requirePackage<typeof Undici.buildConnector>('undici/lib/core/connect.js');
const errors = requirePackage<typeof Undici.errors>('undici/lib/core/errors.js');
const Agent = requirePackage<typeof Undici.Agent>('undici/lib/dispatcher/agent.js');
const Dispatcher = requirePackage<typeof Undici.Dispatcher>('undici/lib/dispatcher/dispatcher.js');
const EnvHttpProxyAgent = requirePackage<typeof Undici.EnvHttpProxyAgent>(
  'undici/lib/dispatcher/env-http-proxy-agent.js',
);
const undiciGlobal = requirePackage<{ getGlobalDispatcher: typeof Undici.getGlobalDispatcher }>(
  'undici/lib/global.js',
);

// What undici's index does so that every dispatcher has `request()`, `stream()` and the like.
Object.assign(Dispatcher.prototype, api);

export { Agent, buildConnector, EnvHttpProxyAgent, errors };

export type RequestOptions = Omit<DispatcherType.RequestOptions, 'origin' | 'path'> & {
  dispatcher?: DispatcherType;
};

/** undici's `request(url, options)`: through `options.dispatcher`, else the global one. */
export function request(url: URL, options: RequestOptions): Promise<DispatcherType.ResponseData> {
  const { dispatcher = undiciGlobal.getGlobalDispatcher(), ...rest } = options;
  return dispatcher.request({
    ...rest,
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    method: rest.method ?? (rest.body ? 'PUT' : 'GET'),
  });
}
