/**
 * A peer's consents are bounded per client (source address) and in all, and a flood of offers
 * from one member evicts only that member's consents, never another client's, and never one
 * that a fetch is using (issue 9.14).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_CONSENT_GRANTS, MAX_CONSENT_GRANTS_PER_CLIENT } from '../../src/constants.js';
import { ConsentDesk } from '../../src/peer/consent.js';
import type { OfferRequest } from '../../src/protocol/messages.js';

const VICTIM = '192.0.2.10';
const FLOODER = '192.0.2.66';

function desk(): ConsentDesk {
  return new ConsentDesk({
    mode: 'auto',
    prompt: async () => 'no',
    promptTimeoutMs: 1_000,
    grantTtlMs: 60 * 60_000,
    maxPending: 4,
    now: Date.now,
  });
}

function offer(url: string, clientId = 'client-victim-01'): OfferRequest {
  return { clientId, clientName: 'c', url, fileName: 'f', size: 1 };
}

async function flood(consents: ConsentDesk, address: string, count: number): Promise<number> {
  let accepted = 0;
  for (let n = 0; n < count; n += 1) {
    const verdict = await consents.decide(
      offer(`https://example.com/${n}`, `client-flood-${String(n % 1_000).padStart(4, '0')}`),
      address,
      AbortSignal.timeout(5_000),
    );
    if (verdict.accepted) accepted += 1;
  }
  return accepted;
}

describe('consent bounds', () => {
  test('10,050 offers from one member leave another client’s consent standing', async () => {
    const consents = desk();
    const url = 'https://example.com/big.iso';
    assert.equal((await consents.decide(offer(url), VICTIM, AbortSignal.timeout(5_000))).accepted, true);
    await flood(consents, FLOODER, MAX_CONSENT_GRANTS + 50);
    assert.equal(consents.allows('client-victim-01', VICTIM, url), true, 'the victim still has its consent');
  });

  test('many members flooding at once fill the desk without touching a quiet client', async () => {
    const consents = desk();
    const url = 'https://example.com/big.iso';
    await consents.decide(offer(url), VICTIM, AbortSignal.timeout(5_000));
    const flooders = Math.ceil((MAX_CONSENT_GRANTS + 500) / MAX_CONSENT_GRANTS_PER_CLIENT);
    for (let n = 0; n < flooders; n += 1)
      await flood(consents, `198.51.100.${n % 250}`, MAX_CONSENT_GRANTS_PER_CLIENT);
    for (let n = 0; n < flooders; n += 1)
      await flood(consents, `203.0.113.${n % 250}`, MAX_CONSENT_GRANTS_PER_CLIENT);
    assert.equal(consents.allows('client-victim-01', VICTIM, url), true);
  });

  test('a consent in use is never evicted, even by its own client’s later offers', async () => {
    const consents = desk();
    const url = 'https://example.com/in-use.iso';
    await consents.decide(offer(url), VICTIM, AbortSignal.timeout(5_000));
    const release = consents.hold('client-victim-01', VICTIM, url);
    assert.ok(release, 'the consent stands');
    const accepted = await flood(consents, VICTIM, 3 * MAX_CONSENT_GRANTS_PER_CLIENT);
    assert.equal(accepted, 3 * MAX_CONSENT_GRANTS_PER_CLIENT, 'the client’s unused consents make room');
    assert.equal(consents.allows('client-victim-01', VICTIM, url), true, 'the one in use stayed');
    release();
    await flood(consents, VICTIM, MAX_CONSENT_GRANTS_PER_CLIENT);
    assert.equal(
      consents.allows('client-victim-01', VICTIM, url),
      false,
      'unused, it is evicted like any other',
    );
  });
});
