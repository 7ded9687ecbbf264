/** What a peer or a client says to a tracker, signed with the swarm key. */
import type { Dispatcher } from 'undici';
import type { GenericSchema } from 'valibot';
import type { SwarmKey } from '../protocol/auth.js';
import {
  API,
  DeregisterResponse,
  PeerListResponse,
  type PeerRecord,
  type RegisterRequest,
  RegisterResponse,
} from '../protocol/messages.js';
import { signedJson } from '../transport/client/signed-http.js';

export interface TrackerClientOptions {
  dispatcher?: Dispatcher;
  /** Per request; defaults to CONTROL_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
}

export class TrackerClient {
  constructor(
    readonly baseUrl: string,
    private readonly key: SwarmKey,
    private readonly options: TrackerClientOptions = {},
  ) {}

  register(info: RegisterRequest, signal: AbortSignal): Promise<RegisterResponse> {
    return this.call('POST', API.register, info, RegisterResponse, signal);
  }

  /** The same upsert as register, so a tracker that restarted learns the peer again. */
  heartbeat(info: RegisterRequest, signal: AbortSignal): Promise<RegisterResponse> {
    return this.call('POST', API.heartbeat, info, RegisterResponse, signal);
  }

  deregister(id: string, signal: AbortSignal): Promise<DeregisterResponse> {
    return this.call('POST', API.deregister, { id }, DeregisterResponse, signal);
  }

  /** Every listed peer, or at most `limit` picked at random by the tracker. */
  async list(signal: AbortSignal, limit?: number): Promise<PeerRecord[]> {
    const path = limit === undefined ? API.peers : `${API.peers}?limit=${limit}`;
    const answer = await this.call('GET', path, undefined, PeerListResponse, signal);
    return answer.peers;
  }

  private call<T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    schema: GenericSchema<unknown, T>,
    signal: AbortSignal,
  ): Promise<T> {
    return signedJson({
      baseUrl: this.baseUrl,
      method,
      path,
      body,
      key: this.key,
      schema,
      signal,
      role: 'tracker',
      ...(this.options.timeoutMs === undefined ? {} : { timeoutMs: this.options.timeoutMs }),
      ...(this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {}),
    });
  }
}
