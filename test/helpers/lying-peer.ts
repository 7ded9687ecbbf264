/**
 * A swarm member that lies: it speaks the real protocol (signed with the real secret) but
 * serves bytes that are not the origin's, in one of several ways. For tests of the client's
 * verification only.
 */
import { randomInt } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { PROTOCOL_VERSION } from '../../src/constants.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { API, FetchRequest, type OfferResponse, type PeerInfoResponse } from '../../src/protocol/messages.js';
import { sendStreamHead } from '../../src/transport/server/signed-answers.js';
import { startSignedServer } from '../../src/transport/server/signed-server.js';

/**
 * flip, shift: wrong bytes of the right length. truncate: half the bytes, then a reset. pad: more
 * bytes than the range. short: announces (and sends) fewer bytes than the range. early: announces
 * the range, sends part of it and closes the connection cleanly. headless: closes before any head.
 * last-byte: flips only the last byte of each answer, which spot checks almost never see.
 */
export type Lie = 'flip' | 'truncate' | 'pad' | 'shift' | 'short' | 'early' | 'headless' | 'last-byte';

export interface LyingPeerOptions {
  /** Paces each answer's body to this rate, so a piece stays in flight for a while. */
  rateBytesPerSec?: number;
}

export interface LyingPeer {
  url: string;
  fetches: number;
  close(): Promise<void>;
}

const SLOTS = 4;
/** How far a 'shift' liar moves the range it serves. */
const SHIFT_BYTES = 4096;
const PACE_CHUNK_BYTES = 16 * 1024;

/** Sends `bytes` as the body, at `rate` bytes per second when given; stops if the client goes. */
async function sendBody(res: ServerResponse, bytes: Buffer, rate: number | undefined): Promise<void> {
  if (rate === undefined) {
    res.end(bytes);
    return;
  }
  for (let offset = 0; offset < bytes.length && !res.destroyed; offset += PACE_CHUNK_BYTES) {
    res.write(bytes.subarray(offset, offset + PACE_CHUNK_BYTES));
    await delay((PACE_CHUNK_BYTES / rate) * 1000);
  }
  res.end();
}

export async function startLyingPeer(
  data: Buffer,
  lie: Lie,
  secret: string,
  options: LyingPeerOptions = {},
): Promise<LyingPeer> {
  const rate = options.rateBytesPerSec;
  const controller = new AbortController();
  const state = { fetches: 0 };
  const server = await startSignedServer(
    {
      host: '127.0.0.1',
      port: 0,
      key: deriveKey(secret),
      nodeId: `liar-${lie}-0000`,
      anyNodeRoutes: [`GET ${API.info}`],
      routes: {
        [`GET ${API.info}`]: (ctx) => {
          const info: PeerInfoResponse = {
            id: `liar-${lie}-0000`,
            name: `liar-${lie}`,
            version: 'test',
            protocol: PROTOCOL_VERSION,
            slots: SLOTS,
            freeSlots: SLOTS,
          };
          ctx.reply(200, info);
        },
        [`POST ${API.offer}`]: (ctx) => {
          const answer: OfferResponse = { accepted: true, slots: SLOTS };
          ctx.reply(200, answer);
        },
        [`POST ${API.fetch}`]: (ctx) => {
          state.fetches += 1;
          const request = ctx.json(FetchRequest);
          const truth = data.subarray(request.start, request.end);
          const length = truth.length;
          switch (lie) {
            case 'flip': {
              const bytes = Buffer.from(truth);
              const at = randomInt(bytes.length);
              bytes[at] = bytes[at]! ^ 0x01;
              sendStreamHead(ctx.res, length, ctx.key, ctx.nonce);
              void sendBody(ctx.res, bytes, rate);
              break;
            }
            case 'last-byte': {
              const bytes = Buffer.from(truth);
              bytes[length - 1] = bytes[length - 1]! ^ 0x01;
              sendStreamHead(ctx.res, length, ctx.key, ctx.nonce);
              void sendBody(ctx.res, bytes, rate);
              break;
            }
            case 'shift': {
              const from = Math.min(request.start + SHIFT_BYTES, data.length - length);
              sendStreamHead(ctx.res, length, ctx.key, ctx.nonce);
              void sendBody(ctx.res, data.subarray(from, from + length), rate);
              break;
            }
            case 'truncate':
              sendStreamHead(ctx.res, length, ctx.key, ctx.nonce);
              ctx.res.write(truth.subarray(0, Math.floor(length / 2)));
              ctx.res.destroy();
              break;
            case 'short': {
              const announced = Math.max(0, length - 1 - randomInt(Math.max(1, Math.floor(length / 2))));
              sendStreamHead(ctx.res, announced, ctx.key, ctx.nonce);
              ctx.res.end(truth.subarray(0, announced));
              break;
            }
            case 'early':
              sendStreamHead(ctx.res, length, ctx.key, ctx.nonce);
              ctx.res.write(truth.subarray(0, randomInt(Math.max(1, length))), () => ctx.res.socket?.end());
              break;
            case 'headless':
              ctx.res.socket?.end();
              break;
            case 'pad':
              sendStreamHead(ctx.res, length + 16, ctx.key, ctx.nonce);
              ctx.res.end(Buffer.concat([truth, Buffer.alloc(16, 0xab)]));
              break;
          }
        },
      },
    },
    controller.signal,
  );
  return {
    url: server.url,
    get fetches() {
      return state.fetches;
    },
    close: async () => {
      await server.close();
      controller.abort();
    },
  };
}
