import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { serviceRecords } from '../../src/discovery/service-records.js';
import { encodeServiceTxt, parseServiceTxt, type ServiceTxt } from '../../src/discovery/service-txt.js';

const plain: ServiceTxt = { id: 'AbCdEfGh12345678_-xyzw', name: 'lab pc', slots: 4, protocol: 1 };
const LAYOUT = ['txtvers=1', 'id=AbCdEfGh12345678', 'name=n', 'slots=2', 'proto=1'];

function strings(...entries: string[]): Buffer[] {
  return entries.map((entry) => Buffer.from(entry, 'utf8'));
}

function texts(encoded: readonly Buffer[]): string[] {
  return encoded.map((entry) => entry.toString('utf8'));
}

describe('the tls flag in the service TXT record', () => {
  test('a peer that serves https announces tls=1, and it reads back', () => {
    const txt: ServiceTxt = { ...plain, tls: true };
    const encoded = encodeServiceTxt(txt);
    assert.ok(texts(encoded).includes('tls=1'), texts(encoded).join(' '));
    assert.deepEqual(parseServiceTxt(encoded), { ok: true, txt });
  });

  test('a plain peer announces no tls key at all, as before TLS existed', () => {
    for (const txt of [plain, { ...plain, tls: false }]) {
      const encoded = encodeServiceTxt(txt);
      assert.ok(!texts(encoded).some((entry) => entry.startsWith('tls')), texts(encoded).join(' '));
      assert.deepEqual(parseServiceTxt(encoded), { ok: true, txt: plain });
    }
  });

  test('tls=0 reads as plain; the key is case-insensitive and the first occurrence wins', () => {
    const parsed = (...extra: string[]) => {
      const result = parseServiceTxt(strings(...LAYOUT, ...extra));
      assert.ok(result.ok, JSON.stringify(result));
      return result.txt.tls;
    };
    assert.equal(parsed('tls=0'), undefined);
    assert.equal(parsed('TLS=1'), true);
    assert.equal(parsed('tls=0', 'tls=1'), undefined);
    assert.equal(parsed('tls=1', 'tls=0'), true);
  });

  for (const value of ['', 'yes', 'true', '2', ' 1']) {
    test(`refuses tls=${JSON.stringify(value)}`, () => {
      const parsed = parseServiceTxt(strings(...LAYOUT, `tls=${value}`));
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.match(parsed.reason, /tls/);
    });
  }

  test('the announced TXT record carries the flag', () => {
    const records = serviceRecords({ ...plain, tls: true, port: 7801, addresses: ['10.0.0.2'] }, 120);
    assert.equal(records.text.type, 'TXT');
    const data = records.text.type === 'TXT' ? records.text.data : [];
    const entries = (Array.isArray(data) ? data : [data]).map((entry) => entry.toString());
    assert.ok(entries.includes('tls=1'), entries.join(' '));
  });
});
