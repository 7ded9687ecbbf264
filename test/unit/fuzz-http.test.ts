/**
 * Property-based checks of the live tracker and peer servers on 127.0.0.1: random signed JSON,
 * random headers and raw bytes each get a 4xx (or a capacity 503) with a JSON error code, never
 * a 500, and the servers go on serving.
 *
 * No generated URL names a host: only non-public IP literals and malformed URLs, so nothing is
 * looked up in DNS and the peer (without --allow-private) never dials anything.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { Pool } from 'undici';
import { parse } from 'valibot';
import { type Peer, startPeer } from '../../src/peer/peer-server.js';
import { ANY_NODE, AUTH_HEADERS, deriveKey, signRequest } from '../../src/protocol/auth.js';
import { API, ErrorBody } from '../../src/protocol/messages.js';
import { TrackerClient } from '../../src/tracker/tracker-client.js';
import { startTracker, type Tracker } from '../../src/tracker/tracker-server.js';
import { PeerClient } from '../../src/transport/client/peer-client.js';

const SIGNED_RUNS = 1_500;
const HEADER_RUNS = 500;
const RAW_RUNS = 500;
const key = deriveKey('fuzz http secret');
const lifetime = new AbortController();

let tracker: Tracker;
let peer: Peer;
const pools = new Map<string, Pool>();

before(async () => {
  tracker = await startTracker({ host: '127.0.0.1', port: 0, key }, lifetime.signal);
  peer = await startPeer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      id: 'peer-fuzz-00001',
      name: 'fuzzed',
      slots: 2,
      accept: 'auto',
      allowPrivate: false,
      trackers: [],
      timeoutMs: 2_000,
    },
    lifetime.signal,
  );
});

after(async () => {
  await Promise.all([...pools.values()].map((pool) => pool.close()));
  lifetime.abort();
  await Promise.all([tracker.close(), peer.close()]);
});

function poolFor(base: string): Pool {
  let pool = pools.get(base);
  if (pool === undefined) {
    pool = new Pool(base, { connections: 8 });
    pools.set(base, pool);
  }
  return pool;
}

/** URLs that cannot reach anything: non-public literals and malformed ones. */
const SAFE_URLS = [
  'http://127.0.0.1:1/file',
  'https://[::1]/x',
  'http://10.0.0.1/a?b=c',
  'http://169.254.169.254/latest/meta-data',
  'http://0x7f.1/',
  'http://[',
  'http://',
  'https://:80',
  'http://a b',
] as const;

const awkward = fc.oneof(
  fc.constantFrom(-1, 0.5, 2 ** 53, 1024 ** 4, Number.MAX_SAFE_INTEGER, '', '\u001b[2J', '\ud800', null),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.jsonValue({ maxDepth: 2 }),
);

const SAMPLES: Record<string, Record<string, unknown>> = {
  register: { id: 'peer-0000001', name: 'alpha', port: 7801, slots: 4, version: '0.1.0' },
  deregister: { id: 'peer-0000001' },
  offer: { clientId: 'client-000001', clientName: 'c', url: SAFE_URLS[0], fileName: 'f', size: 10 },
  fetch: { clientId: 'client-000001', url: SAFE_URLS[0], start: 0, end: 10, validators: {} },
};

/** A sample message with a field changed, dropped or added. */
const nearValidBody = fc
  .tuple(
    fc.constantFrom(...Object.values(SAMPLES)),
    fc.constantFrom('set', 'drop', 'add'),
    fc.string({ maxLength: 10 }),
    awkward,
    fc.nat(),
  )
  .map(([sample, change, extraKey, value, pick]) => {
    const keys = Object.keys(sample);
    const chosen = keys[pick % keys.length]!;
    const copy: Record<string, unknown> = { ...sample };
    if (change === 'set') copy[chosen] = value;
    if (change === 'drop') delete copy[chosen];
    if (change === 'add') copy[extraKey] = value;
    return copy;
  });

/** Keeps every URL-shaped field among the safe ones, whatever the generator made of it. */
function withSafeUrls(value: unknown, pick: number): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const copy: Record<string, unknown> = { ...value };
  if (typeof copy.url === 'string' && /^https?:/i.test(copy.url.trim())) {
    copy.url = SAFE_URLS[pick % SAFE_URLS.length];
  }
  return copy;
}

function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return '{}';
  }
}

const body = fc.oneof(
  fc.tuple(nearValidBody, fc.nat()).map(([value, pick]) => jsonText(withSafeUrls(value, pick))),
  fc
    .tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat())
    .map(([value, pick]) => jsonText(withSafeUrls(value, pick))),
  fc.string({ unit: 'binary', maxLength: 200 }).filter((text) => !/https?:/i.test(text)),
  fc.constantFrom(
    '',
    '{',
    'null',
    '[]',
    '{"id":',
    `{"x":"${'y'.repeat(70_000)}"}`,
    // Nested deeper than a recursive serializer survives, within the body limit.
    `${'['.repeat(30_000)}${']'.repeat(30_000)}`,
    `{"id":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
  ),
);

const method = fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS');
const path = fc.oneof(
  fc.constantFrom(...Object.values(API)),
  fc.constantFrom('/', '/v1', '/v1/peers?x=1', '/v1/info/', '/V1/INFO', '//v1/info', '/v1/fetch#x', '/%00'),
  fc.webPath().filter((p) => p.startsWith('/')),
);

interface Answer {
  status: number;
  text: string;
}

/** A status and body are acceptable: success, a 4xx, or a capacity refusal, with a JSON error. */
function assertClean(answer: Answer, what: string, requestMethod: string): void {
  const { status, text } = answer;
  assert.ok(status < 500 || status === 503, `${what}: HTTP ${status} ${text.slice(0, 200)}`);
  if (status < 400 || requestMethod === 'HEAD') return;
  const error = parse(ErrorBody, JSON.parse(text)).error;
  assert.match(error.code, /^[A-Z_]+$/, what);
  assert.notEqual(error.code, 'INTERNAL', what);
  if (status === 503) assert.ok(['TRACKER_FULL', 'PEER_BUSY'].includes(error.code), `${what}: ${error.code}`);
}

async function send(
  base: string,
  requestMethod: string,
  requestPath: string,
  headers: Record<string, string>,
  payload: string | undefined,
): Promise<Answer> {
  const response = await poolFor(base).request({
    method: requestMethod as 'GET',
    path: requestPath,
    headers,
    ...(payload === undefined ? {} : { body: payload }),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.statusCode, text: await response.body.text() };
}

/** Writes raw bytes on a fresh connection and returns the first answer (empty when it just closed). */
function sendRaw(port: number, bytes: Uint8Array): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer and no close within 5 s'));
    }, 5_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      // An interim "100 Continue" may come first; the answer is what follows it.
      const raw = Buffer.concat(chunks)
        .toString('latin1')
        .replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n\r\n)+/, '');
      if (raw === '') {
        resolve({ status: 0, text: '' });
        return;
      }
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(raw)?.[1] ?? Number.NaN);
      const headEnd = raw.indexOf('\r\n\r\n');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(raw.slice(0, headEnd))?.[1] ?? 0);
      resolve({ status, text: raw.slice(headEnd + 4, headEnd + 4 + length) });
    });
    socket.end(bytes);
  });
}

const servers = () =>
  [
    ['tracker', tracker.url, tracker.address.port, ANY_NODE],
    ['peer', peer.url, peer.address.port, peer.id],
  ] as const;

describe('live servers under random requests', () => {
  test(`${SIGNED_RUNS} signed requests with random bodies, per server`, async () => {
    for (const [name, base, , node] of servers()) {
      const target = { authority: new URL(base).host, node };
      await fc.assert(
        fc.asyncProperty(method, path, body, async (requestMethod, requestPath, payload) => {
          const sentBody = requestMethod === 'GET' || requestMethod === 'HEAD' ? undefined : payload;
          const headers = {
            ...signRequest(key, requestMethod, requestPath, sentBody, target),
            'content-type': 'application/json',
          };
          const answer = await send(base, requestMethod, requestPath, headers, sentBody);
          assertClean(answer, `${name} ${requestMethod} ${requestPath}`, requestMethod);
        }),
        { numRuns: SIGNED_RUNS },
      );
    }
  });

  test(`${HEADER_RUNS} requests with random auth and other headers, per server`, async () => {
    const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/);
    const fieldValue = fc.stringMatching(/^[\x20-\x7e\t]{0,60}$/).map((value) => value.trim());
    const headerSet = fc.record(
      {
        [AUTH_HEADERS.time]: fc.oneof(fieldValue, fc.constant(String(Date.now()))),
        [AUTH_HEADERS.nonce]: fieldValue,
        [AUTH_HEADERS.signature]: fieldValue,
        extra: fc.dictionary(token, fieldValue, { maxKeys: 5 }),
      },
      { requiredKeys: [] },
    );
    for (const [name, base] of servers()) {
      await fc.assert(
        fc.asyncProperty(
          method,
          path,
          headerSet,
          body,
          async (requestMethod, requestPath, given, payload) => {
            const { extra = {}, ...auth } = given;
            const headers: Record<string, string> = {};
            for (const [field, value] of Object.entries({ ...extra, ...auth })) {
              if (
                !/^(host|content-length|transfer-encoding|connection|upgrade|expect|keep-alive)$/i.test(field)
              ) {
                headers[field] = value as string;
              }
            }
            const sentBody = requestMethod === 'GET' || requestMethod === 'HEAD' ? undefined : payload;
            const answer = await send(base, requestMethod, requestPath, headers, sentBody);
            assert.ok(answer.status >= 400, `${name}: unsigned request answered ${answer.status}`);
            assertClean(answer, `${name} ${requestMethod} ${requestPath}`, requestMethod);
          },
        ),
        { numRuns: HEADER_RUNS },
      );
    }
  });

  test(`${RAW_RUNS} raw byte streams, per server: a JSON 4xx or a closed connection`, async () => {
    const rawRequest = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .tuple(
          fc.constantFrom('GET', 'POST', 'BREW', '', 'G\u0000T', 'PRI'),
          fc.constantFrom(' /v1/info', ' /v1/offer', ' *', ' http://x/', ' ', ' /\u0001'),
          fc.constantFrom(' HTTP/1.1', ' HTTP/1.0', ' HTTP/2.0', ' HTTP/1.1 extra', '', ' HTTP/9'),
          fc.array(
            fc.constantFrom(
              'Host: p',
              'Content-Length: 5',
              'Content-Length: -1',
              'Content-Length: 99999999999999999999',
              'Content-Length: 1, 2',
              'Transfer-Encoding: chunked',
              'Transfer-Encoding: gzip, chunked',
              'X-Ddm-Time: 1',
              'x-ddm-auth: zz',
              'Bad Header',
              ': empty',
              `X-Long: ${'l'.repeat(20_000)}`,
              'Expect: 100-continue',
              'Expect: teapot',
              'Connection: upgrade',
              'Upgrade: websocket',
            ),
            { maxLength: 5 },
          ),
          fc.constantFrom('', 'hello', '0\r\n\r\n', 'zz\r\n', '{"id":1}'),
        )
        .map(([verb, target, version, lines, tail]) =>
          Buffer.from(`${verb}${target}${version}\r\n${lines.join('\r\n')}\r\n\r\n${tail}`, 'latin1'),
        ),
    );
    for (const [name, , port] of servers()) {
      await fc.assert(
        fc.asyncProperty(rawRequest, async (bytes) => {
          const answer = await sendRaw(port, bytes);
          if (answer.status === 0) return;
          assert.ok(answer.status >= 400, `${name}: raw request answered ${answer.status}`);
          assertClean(answer, `${name} raw`, 'POST');
        }),
        { numRuns: RAW_RUNS },
      );
    }
  });

  test('both servers still answer a legitimate client', async () => {
    const signal = AbortSignal.timeout(5_000);
    assert.ok(Array.isArray(await new TrackerClient(tracker.url, key).list(signal)));
    assert.equal((await new PeerClient(peer.url, key).info(signal)).id, 'peer-fuzz-00001');
  });
});
