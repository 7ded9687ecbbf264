/**
 * `ddm daemon --helper`: the peer protocol (/v1/...) served on the daemon's own port, with the
 * consent rules of `ddm peer` and its questions put to the helper role. The role follows the
 * settings while it runs: switched on or off, its slots, accept mode and upload limit changed,
 * its registration with the trackers and its LAN announcement redone when what they say changes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Announcer } from '../discovery/announcer.js';
import { DdmError } from '../errors.js';
import { announcePeer } from '../peer/lan-presence.js';
import { checkIdentity, registerPeer } from '../peer/peer-server.js';
import { createPeerService, type PeerService } from '../peer/peer-service.js';
import { deriveKey } from '../protocol/auth.js';
import type { Registration } from '../tracker/registration.js';
import { sendError } from '../util/signed-http.js';
import { createSignedHandler, type SignedHandler } from '../util/signed-server.js';
import type { DaemonRoute } from './daemon-routes.js';
import type { DaemonHelperRole, HelperRoleSettings } from './helper-role.js';

/** The peer protocol's paths. */
export const PEER_PATH_PREFIX = '/v1/';

export interface HelperServiceOptions {
  role: DaemonHelperRole;
  /** The daemon's listen host (decides what is announced on the LAN). */
  host: string;
  /** The daemon's port and URL, known once it listens. */
  port: () => number;
  url: () => string;
  /** Let the helper fetch loopback and private addresses (`--allow-private`). */
  allowPrivate: boolean;
  consentTimeoutMs?: number;
  heartbeatMs?: number;
  log?: Logger;
  /** One line about the role's presence (announced where, trackers). */
  report: (line: string) => void;
}

/** What, besides the role's own settings, decides how it serves. */
export interface HelperContext {
  swarmSecret: string | undefined;
  trackers: readonly string[];
  lanDiscovery: boolean;
  /** For the trackers (TLS trust). */
  dispatcher: Dispatcher | undefined;
}

interface Running {
  secret: string;
  service: PeerService;
  handler: SignedHandler;
  presence: Presence | undefined;
  /** What the presence was made from: redone when it differs. */
  presenceKey: string;
}

interface Presence {
  controller: AbortController;
  registration: Registration | undefined;
  announcer: Announcer | undefined;
}

export class HelperService {
  #running: Running | undefined;
  #port = 0;
  /** The trackers' dispatcher the presence was made with. */
  #dispatcher: Dispatcher | undefined;

  constructor(private readonly options: HelperServiceOptions) {}

  /** The daemon's route for the peer protocol; while the role is off it answers 404. */
  readonly route: DaemonRoute = {
    name: 'helper',
    matches: (path) => path.startsWith(PEER_PATH_PREFIX),
    handle: (req: IncomingMessage, res: ServerResponse) => {
      const running = this.#running;
      if (running) {
        running.handler.handle(req, res);
        return;
      }
      sendError(res, 404, 'PROTOCOL', 'this daemon is not a helper now (helper.enabled is off)');
    },
  };

  /** Makes the role serve as `settings` say; the port must be known (the daemon listens). */
  async apply(settings: HelperRoleSettings, context: HelperContext): Promise<void> {
    const { role } = this.options;
    const secret = context.swarmSecret;
    if (!settings.enabled || secret === undefined) {
      await this.#stop();
      role.update(settings, () => ({ url: null, freeSlots: 0 }));
      return;
    }
    checkIdentity({ id: role.peerId, name: role.name, slots: settings.slots });
    if (this.#running && this.#running.secret !== secret) await this.#stop();
    const running = this.#running ?? this.#start(settings, secret);
    this.#running = running;
    running.service.setSlots(settings.slots);
    running.service.setAccept(settings.accept);
    running.service.setMaxUpload(settings.maxUpload);
    this.#port = this.options.port();
    const presenceKey = JSON.stringify([settings.slots, context.trackers, context.lanDiscovery, this.#port]);
    if (running.presenceKey !== presenceKey || context.dispatcher !== this.#dispatcher) {
      this.#dispatcher = context.dispatcher;
      await stopPresence(running.presence);
      running.presence = this.#present(settings, context, secret);
      running.presenceKey = presenceKey;
    }
    role.update(settings, () => ({ url: this.options.url(), freeSlots: running.service.slots.free }));
  }

  async close(): Promise<void> {
    await this.#stop();
  }

  #start(settings: HelperRoleSettings, secret: string): Running {
    const { role } = this.options;
    const service = createPeerService({
      key: deriveKey(secret),
      id: role.peerId,
      name: role.name,
      slots: settings.slots,
      accept: settings.accept,
      allowPrivate: this.options.allowPrivate,
      prompt: role.prompt,
      observer: role.observer,
      maxUploadBytesPerSec: settings.maxUpload,
      ...(this.options.consentTimeoutMs === undefined
        ? {}
        : { consentTimeoutMs: this.options.consentTimeoutMs }),
      ...(this.options.log ? { log: this.options.log } : {}),
    });
    return {
      secret,
      service,
      handler: createSignedHandler(service.handler),
      presence: undefined,
      presenceKey: '',
    };
  }

  #present(settings: HelperRoleSettings, context: HelperContext, secret: string): Presence {
    const { role, log, report } = this.options;
    const controller = new AbortController();
    const registration = registerPeer(
      {
        trackers: context.trackers,
        key: deriveKey(secret),
        id: role.peerId,
        name: role.name,
        slots: settings.slots,
        ...(context.dispatcher ? { dispatcher: context.dispatcher } : {}),
        ...(this.options.heartbeatMs === undefined ? {} : { heartbeatMs: this.options.heartbeatMs }),
        ...(log ? { log } : {}),
        onTrackerError: (tracker, error) => report(`helper: tracker ${tracker}: ${error.message}`),
      },
      this.#port,
      controller.signal,
    );
    const announcer = context.lanDiscovery
      ? announcePeer(
          {
            id: role.peerId,
            name: role.name,
            slots: settings.slots,
            host: this.options.host,
            port: this.#port,
            tls: false,
            onProblem: (message) => log?.warn(message),
          },
          (line) => report(`helper: ${line}`),
          controller.signal,
        )
      : undefined;
    return { controller, registration, announcer };
  }

  async #stop(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    this.#running = undefined;
    // Goodbye first, so that clients stop counting on this helper before it goes.
    await stopPresence(running.presence);
    running.handler.abortAll(new DdmError('ABORTED', 'the helper role was switched off'));
    await running.service.close();
  }
}

async function stopPresence(presence: Presence | undefined): Promise<void> {
  if (!presence) return;
  await presence.announcer?.stop();
  await presence.registration?.stop();
  presence.controller.abort();
}
