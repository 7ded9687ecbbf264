import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { safeParse } from 'valibot';
import { clientIdFor, displayName } from '../../src/client/client-identity.js';
import { OfferRequest } from '../../src/protocol/messages.js';

describe('client identity', () => {
  test('the id is stable per secret, host and user, and differs when any of them does', () => {
    const id = clientIdFor('secret-aaaaaaaaaaaaaaaa', 'host', 'user');
    assert.equal(id, clientIdFor('secret-aaaaaaaaaaaaaaaa', 'host', 'user'));
    assert.notEqual(id, clientIdFor('secret-bbbbbbbbbbbbbbbb', 'host', 'user'));
    assert.notEqual(id, clientIdFor('secret-aaaaaaaaaaaaaaaa', 'other', 'user'));
    assert.notEqual(id, clientIdFor('secret-aaaaaaaaaaaaaaaa', 'host', 'other'));
    assert.ok(!id.includes('secret'));
  });

  test('any host name becomes a name the wire accepts', () => {
    for (const raw of ['', '   ', 'a'.repeat(300), 'evil\u001b[2Jname', 'ünïcødé-✓'.repeat(20), '\u0085x']) {
      const offer = {
        clientId: clientIdFor('s'.repeat(16)),
        clientName: displayName(raw),
        url: 'https://example.org/f',
        fileName: 'f',
        size: 1,
      };
      assert.equal(safeParse(OfferRequest, offer).success, true, JSON.stringify(raw));
    }
    assert.equal(displayName('laptop-7'), 'laptop-7');
  });
});
