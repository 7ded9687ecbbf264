/**
 * Many cheap swarm members in this process: real signed HTTP servers on 127.0.0.1 that prove
 * their id, accept offers and either serve the range honestly from memory or answer busy. For
 * tests of how a client chooses its helpers in a large swarm.
 */
import { PROTOCOL_VERSION } from '../../src/constants.js';
import { DdmError } from '../../src/errors.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { API, FetchRequest, type OfferResponse, type PeerInfoResponse } from '../../src/protocol/messages.js';
import { sendStreamHead } from '../../src/transport/server/signed-answers.js';
import { type SignedServer, startSignedServer } from '../../src/transport/server/signed-server.js';

/** good: serves. busy: says it has no free slot, and answers every fetch busy. lying-busy: says it has free slots, yet answers every fetch busy. */
export type FakeKind = 'good' | 'busy' | 'lying-busy';

export interface RequestCounts {
  info: number;
  offer: number;
  fetch: number;
  /** Ids of the fakes that received an offer. */
  offered: Set<string>;
}

export interface FakePeer {
  id: string;
  kind: FakeKind;
  port: number;
  close(): Promise<void>;
}

const SLOTS = 4;

export async function startFakePeer(
  n: number,
  kind: FakeKind,
  secret: string,
  data: Buffer,
  counts: RequestCounts,
  signal: AbortSignal,
): Promise<FakePeer> {
  const id = `fake-${kind}-${String(n).padStart(5, '0')}`;
  const server: SignedServer = await startSignedServer(
    {
      host: '127.0.0.1',
      port: 0,
      key: deriveKey(secret),
      nodeId: id,
      anyNodeRoutes: [`GET ${API.info}`],
      routes: {
        [`GET ${API.info}`]: (ctx) => {
          counts.info += 1;
          const info: PeerInfoResponse = {
            id,
            name: id,
            version: 'test',
            protocol: PROTOCOL_VERSION,
            slots: SLOTS,
            freeSlots: kind === 'busy' ? 0 : SLOTS,
          };
          ctx.reply(200, info);
        },
        [`POST ${API.offer}`]: (ctx) => {
          counts.offer += 1;
          counts.offered.add(id);
          const answer: OfferResponse = { accepted: true, slots: SLOTS };
          ctx.reply(200, answer);
        },
        [`POST ${API.fetch}`]: (ctx) => {
          counts.fetch += 1;
          if (kind !== 'good') {
            throw new DdmError('PEER_BUSY', `all ${SLOTS} slots of this peer are busy`, { retryable: true });
          }
          const request = ctx.json(FetchRequest);
          const bytes = data.subarray(request.start, request.end);
          sendStreamHead(ctx.res, bytes.length, ctx.key, ctx.nonce);
          ctx.res.end(bytes);
        },
      },
    },
    signal,
  );
  return { id, kind, port: server.address.port, close: () => server.close() };
}
