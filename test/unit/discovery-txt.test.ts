import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeServiceTxt, parseServiceTxt, type ServiceTxt } from '../../src/discovery/service-txt.js';

const txt: ServiceTxt = { id: 'AbCdEfGh12345678_-xyzw', name: 'lab pc', slots: 4, protocol: 1 };

function strings(...entries: string[]): Buffer[] {
  return entries.map((entry) => Buffer.from(entry, 'utf8'));
}

describe('service TXT record', () => {
  test('round-trips id, name, slots and protocol version', () => {
    assert.deepEqual(parseServiceTxt(encodeServiceTxt(txt)), { ok: true, txt });
  });

  test('every string fits the 255-byte limit; a long name is cut at a character boundary', () => {
    const name = 'é'.repeat(64);
    const encoded = encodeServiceTxt({ ...txt, name });
    for (const entry of encoded) assert.ok(entry.length <= 255, `${entry.length} bytes`);
    const parsed = parseServiceTxt(encoded);
    assert.ok(parsed.ok);
    assert.equal(parsed.txt.name, name, '64 two-byte characters fit');
    const wide = encodeServiceTxt({ ...txt, name: '😀'.repeat(64) });
    const nameEntry = wide.find((entry) => entry.toString().startsWith('name='))!;
    assert.ok(nameEntry.length <= 255);
    assert.ok(!nameEntry.toString('utf8').includes('\ufffd'), 'no broken character');
  });

  test('keys are case-insensitive, the first occurrence wins, boolean attributes are ignored', () => {
    const parsed = parseServiceTxt(
      strings('TXTVERS=1', 'flag', 'ID=AbCdEfGh12345678', 'id=ZZZZZZZZZZZZ', 'Name=n', 'slots=2', 'proto=1'),
    );
    assert.deepEqual(parsed, { ok: true, txt: { id: 'AbCdEfGh12345678', name: 'n', slots: 2, protocol: 1 } });
  });

  const bad: [string, Buffer[], RegExp][] = [
    ['no txtvers', strings('id=AbCdEfGh12345678', 'name=n', 'slots=2', 'proto=1'), /layout/],
    [
      'an unknown layout',
      strings('txtvers=2', 'id=AbCdEfGh12345678', 'name=n', 'slots=2', 'proto=1'),
      /layout/,
    ],
    ['a short id', strings('txtvers=1', 'id=abc', 'name=n', 'slots=2', 'proto=1'), /id/],
    [
      'an id with odd characters',
      strings('txtvers=1', 'id=AbCdEfGh/2345678', 'name=n', 'slots=2', 'proto=1'),
      /id/,
    ],
    [
      'a name with a terminal escape',
      strings('txtvers=1', 'id=AbCdEfGh12345678', 'name=\u001b[2J', 'slots=2', 'proto=1'),
      /name/,
    ],
    ['no name', strings('txtvers=1', 'id=AbCdEfGh12345678', 'slots=2', 'proto=1'), /name/],
    ['zero slots', strings('txtvers=1', 'id=AbCdEfGh12345678', 'name=n', 'slots=0', 'proto=1'), /slots/],
    [
      'too many slots',
      strings('txtvers=1', 'id=AbCdEfGh12345678', 'name=n', 'slots=999', 'proto=1'),
      /slots/,
    ],
    [
      'slots that are not a number',
      strings('txtvers=1', 'id=AbCdEfGh12345678', 'name=n', 'slots=2x', 'proto=1'),
      /slots/,
    ],
    ['no protocol version', strings('txtvers=1', 'id=AbCdEfGh12345678', 'name=n', 'slots=2'), /proto/],
  ];
  for (const [what, entries, reason] of bad) {
    test(`refuses ${what}`, () => {
      const parsed = parseServiceTxt(entries);
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.match(parsed.reason, reason);
    });
  }
});
