import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { describe, test } from 'node:test';
import {
  ANY_NODE,
  AUTH_HEADERS,
  bodyDigest,
  deriveKey,
  describeAuthFailure,
  newSecret,
  type RequestTarget,
  RequestVerifier,
  STREAM_BODY,
  signRequest,
  signResponse,
  verifyResponse,
} from '../../src/protocol/auth.js';

const key = deriveKey('correct horse battery staple');
const otherKey = deriveKey('another secret');
const NOW = 1_700_000_000_000;
const body = JSON.stringify({ id: 'peer-0001', name: 'alpha' });

const TARGET = { authority: '192.0.2.10:7801', node: 'peer-target-0001' };

function signed(
  overrides: Partial<{
    method: string;
    path: string;
    body: string;
    now: number;
    key: typeof key;
    target: RequestTarget;
  }> = {},
) {
  return signRequest(
    overrides.key ?? key,
    overrides.method ?? 'POST',
    overrides.path ?? '/v1/register',
    overrides.body ?? body,
    overrides.target ?? TARGET,
    overrides.now ?? NOW,
  );
}

describe('swarm keys', () => {
  test('derive deterministically from the secret and differ between secrets', () => {
    assert.deepEqual(deriveKey('correct horse battery staple'), key);
    assert.notDeepEqual(key, otherKey);
    assert.equal(key.length, 32);
  });

  test('new secrets are random 32-byte base64url strings', () => {
    const a = newSecret();
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, newSecret());
  });

  test('the secret itself never appears in the headers', () => {
    const headers = signed();
    for (const value of Object.values(headers)) assert.ok(!value.includes('horse'));
  });
});

describe('request signatures', () => {
  test('a signed request verifies and yields its nonce', () => {
    const headers = signed();
    const result = new RequestVerifier(key).verify('POST', '/v1/register', headers, body, NOW);
    assert.deepEqual(result, { ok: true, nonce: headers[AUTH_HEADERS.nonce], target: TARGET });
  });

  test('the signature binds the target node and the Host the client dialled', () => {
    const verify = (h: Record<string, string>) =>
      new RequestVerifier(key).verify('POST', '/v1/register', h, body, NOW);
    const headers = signed();
    assert.equal(headers.host, TARGET.authority, 'the Host to send comes with the signature');
    assert.equal(headers[AUTH_HEADERS.target], TARGET.node);
    // A recording replayed to another node, with either field rewritten to fit it, fails.
    assert.deepEqual(verify({ ...headers, [AUTH_HEADERS.target]: 'peer-other-0002' }), {
      ok: false,
      reason: 'bad-signature',
    });
    assert.deepEqual(verify({ ...headers, host: '192.0.2.11:7801' }), { ok: false, reason: 'bad-signature' });
    assert.deepEqual(verify({ ...headers, host: '192.0.2.10:7802' }), { ok: false, reason: 'bad-signature' });
    assert.equal(verify({ ...headers, host: '192.0.2.10:7801'.toUpperCase() }).ok, true, 'Host case is free');
    const anyNode = signed({ target: { authority: TARGET.authority, node: ANY_NODE } });
    assert.deepEqual(verify(anyNode), {
      ok: true,
      nonce: anyNode[AUTH_HEADERS.nonce],
      target: { authority: TARGET.authority, node: ANY_NODE },
    });
  });

  test('a request signed the protocol 1 way (no target) is told apart from a wrong secret', () => {
    const { [AUTH_HEADERS.target]: _dropped, ...old } = signed();
    assert.deepEqual(new RequestVerifier(key).verify('POST', '/v1/register', old, body, NOW), {
      ok: false,
      reason: 'outdated',
    });
    assert.match(describeAuthFailure('outdated'), /protocol 1.*upgrade/);
    for (const bad of ['', 'short', 'peer id with spaces', '**']) {
      assert.deepEqual(
        new RequestVerifier(key).verify(
          'POST',
          '/v1/register',
          { ...signed(), [AUTH_HEADERS.target]: bad },
          body,
          NOW,
        ),
        { ok: false, reason: 'malformed' },
      );
    }
  });

  test('method case does not matter, but the method does', () => {
    const headers = signed({ method: 'post' });
    assert.equal(new RequestVerifier(key).verify('POST', '/v1/register', headers, body, NOW).ok, true);
    assert.deepEqual(new RequestVerifier(key).verify('GET', '/v1/register', signed(), body, NOW), {
      ok: false,
      reason: 'bad-signature',
    });
  });

  test('a tampered path, body or time is refused', () => {
    const headers = signed();
    const verify = (path: string, payload: string, h: Record<string, string>) =>
      new RequestVerifier(key).verify('POST', path, h, payload, NOW);
    assert.deepEqual(verify('/v1/deregister', body, headers), { ok: false, reason: 'bad-signature' });
    assert.deepEqual(verify('/v1/register', body.replace('alpha', 'alphb'), headers), {
      ok: false,
      reason: 'bad-signature',
    });
    const shifted = { ...headers, [AUTH_HEADERS.time]: String(NOW + 1) };
    assert.deepEqual(verify('/v1/register', body, shifted), { ok: false, reason: 'bad-signature' });
    const otherNonce = { ...headers, [AUTH_HEADERS.nonce]: 'a'.repeat(32) };
    assert.deepEqual(verify('/v1/register', body, otherNonce), { ok: false, reason: 'bad-signature' });
  });

  test('a request signed with another secret is refused', () => {
    const result = new RequestVerifier(key).verify(
      'POST',
      '/v1/register',
      signed({ key: otherKey }),
      body,
      NOW,
    );
    assert.deepEqual(result, { ok: false, reason: 'bad-signature' });
  });

  test('requests outside the time window are refused, both ways', () => {
    const verifier = new RequestVerifier(key, 60_000);
    assert.equal(verifier.verify('POST', '/v1/register', signed({ now: NOW - 60_000 }), body, NOW).ok, true);
    assert.deepEqual(verifier.verify('POST', '/v1/register', signed({ now: NOW - 60_001 }), body, NOW), {
      ok: false,
      reason: 'expired',
    });
    assert.deepEqual(verifier.verify('POST', '/v1/register', signed({ now: NOW + 60_001 }), body, NOW), {
      ok: false,
      reason: 'expired',
    });
  });

  test('a replayed request is refused while its nonce is remembered', () => {
    const verifier = new RequestVerifier(key, 60_000);
    const headers = signed();
    assert.equal(verifier.verify('POST', '/v1/register', headers, body, NOW).ok, true);
    assert.deepEqual(verifier.verify('POST', '/v1/register', headers, body, NOW + 1_000), {
      ok: false,
      reason: 'replayed',
    });
    // Once the window has passed the nonce is forgotten, and the timestamp check refuses it instead.
    assert.deepEqual(verifier.verify('POST', '/v1/register', headers, body, NOW + 60_001), {
      ok: false,
      reason: 'expired',
    });
  });

  test('a request stamped ahead of the clock cannot be replayed while its stamp is still valid', () => {
    const verifier = new RequestVerifier(key, 60_000);
    const headers = signed({ now: NOW + 59_000 });
    assert.equal(verifier.verify('POST', '/v1/register', headers, body, NOW).ok, true);
    // 90 s later the stamp is only 31 s old, so still inside the window: the nonce must still be known.
    assert.deepEqual(verifier.verify('POST', '/v1/register', headers, body, NOW + 90_000), {
      ok: false,
      reason: 'replayed',
    });
  });

  test('a refused request does not burn its nonce', () => {
    const verifier = new RequestVerifier(key);
    const headers = signed();
    assert.equal(verifier.verify('POST', '/v1/register', headers, 'tampered', NOW).ok, false);
    assert.equal(verifier.verify('POST', '/v1/register', headers, body, NOW).ok, true);
  });

  test('missing and malformed headers are told apart', () => {
    const verifier = new RequestVerifier(key);
    assert.deepEqual(verifier.verify('GET', '/v1/peers', {}, undefined, NOW), {
      ok: false,
      reason: 'missing',
    });
    const headers = signed();
    const { [AUTH_HEADERS.signature]: _dropped, ...unsigned } = headers;
    assert.deepEqual(verifier.verify('POST', '/v1/register', unsigned, body, NOW), {
      ok: false,
      reason: 'missing',
    });
    for (const [name, value] of [
      [AUTH_HEADERS.time, 'yesterday'],
      [AUTH_HEADERS.nonce, 'short'],
      [AUTH_HEADERS.signature, 'zz'.repeat(32)],
    ] as const) {
      assert.deepEqual(verifier.verify('POST', '/v1/register', { ...headers, [name]: value }, body, NOW), {
        ok: false,
        reason: 'malformed',
      });
    }
    const repeated = { ...headers, [AUTH_HEADERS.nonce]: [headers[AUTH_HEADERS.nonce]!, 'x'] };
    assert.deepEqual(verifier.verify('POST', '/v1/register', repeated, body, NOW), {
      ok: false,
      reason: 'missing',
    });
  });

  test('an absent body and an empty body sign the same', () => {
    const headers = signRequest(key, 'GET', '/v1/peers', undefined, TARGET, NOW);
    assert.equal(new RequestVerifier(key).verify('GET', '/v1/peers', headers, Buffer.alloc(0), NOW).ok, true);
  });
});

describe('response signatures', () => {
  const nonce = '0123456789abcdef0123456789abcdef';

  test('round trip over status, nonce and body digest', () => {
    const digest = bodyDigest('{"ok":true}');
    const signature = signResponse(key, 200, nonce, digest);
    assert.equal(verifyResponse(key, 200, nonce, digest, signature), true);
    assert.equal(verifyResponse(key, 201, nonce, digest, signature), false);
    assert.equal(verifyResponse(key, 200, 'f'.repeat(32), digest, signature), false);
    assert.equal(verifyResponse(key, 200, nonce, bodyDigest('{"ok":false}'), signature), false);
    assert.equal(verifyResponse(otherKey, 200, nonce, digest, signature), false);
  });

  test('stream answers sign a fixed marker instead of a digest', () => {
    const signature = signResponse(key, 200, nonce, STREAM_BODY);
    assert.equal(verifyResponse(key, 200, nonce, STREAM_BODY, signature), true);
    assert.equal(verifyResponse(key, 200, nonce, bodyDigest(''), signature), false);
  });

  test('missing or malformed signatures are refused without throwing', () => {
    const digest = bodyDigest('');
    assert.equal(verifyResponse(key, 200, nonce, digest, undefined), false);
    assert.equal(verifyResponse(key, 200, nonce, digest, 'abc'), false);
    assert.equal(verifyResponse(key, 200, nonce, digest, 'g'.repeat(64)), false);
  });
});

test('signatures are compared with crypto.timingSafeEqual', (t) => {
  // Named imports of builtins follow the module object after syncBuiltinESMExports.
  const spy = t.mock.method(crypto, 'timingSafeEqual');
  syncBuiltinESMExports();
  t.after(() => {
    spy.mock.restore();
    syncBuiltinESMExports();
  });
  const headers = signed();
  assert.equal(new RequestVerifier(key).verify('POST', '/v1/register', headers, body, NOW).ok, true);
  assert.equal(spy.mock.callCount(), 1);
  const nonce = headers[AUTH_HEADERS.nonce]!;
  verifyResponse(key, 200, nonce, bodyDigest(''), signResponse(otherKey, 200, nonce, bodyDigest('')));
  assert.equal(spy.mock.callCount(), 2);
});
