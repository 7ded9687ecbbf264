import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coveredEnd } from '../../src/client/ordered-output.js';
import { parseRange } from '../../src/daemon/preview-route.js';
import { previewTokens } from '../../src/daemon/preview-token.js';
import { contentTypeFor } from '../../src/daemon/preview-types.js';

describe('preview Range header', () => {
  it('reads one range of each form', () => {
    assert.deepEqual(parseRange('bytes=0-99', 1000), { start: 0, end: 100 });
    assert.deepEqual(parseRange('bytes=900-', 1000), { start: 900, end: 1000 });
    assert.deepEqual(parseRange('bytes=-100', 1000), { start: 900, end: 1000 });
    assert.deepEqual(parseRange('bytes=-5000', 1000), { start: 0, end: 1000 });
    assert.deepEqual(parseRange('bytes=990-5000', 1000), { start: 990, end: 1000 });
  });

  it('answers unsatisfiable for a start at or past the end, and an empty suffix', () => {
    assert.equal(parseRange('bytes=1000-', 1000), 'unsatisfiable');
    assert.equal(parseRange('bytes=1000-2000', 1000), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 1000), 'unsatisfiable');
  });

  it('serves the whole file for no header, bad syntax, another unit or several ranges', () => {
    for (const header of [
      undefined,
      'bytes=',
      'bytes=-',
      'bytes=5-3',
      'items=0-1',
      'bytes=0-1,5-6',
      'bytes=a-b',
    ]) {
      assert.equal(parseRange(header, 1000), undefined, String(header));
    }
  });
});

describe('preview token', () => {
  it('is stable for a key and a download, differs across downloads and keys', () => {
    const tokens = previewTokens('k'.repeat(64));
    const again = previewTokens('k'.repeat(64));
    const other = previewTokens('o'.repeat(64));
    const token = tokens.tokenFor('0123456789abcdef');
    assert.match(token, /^[0-9a-f]{32}$/);
    assert.equal(again.tokenFor('0123456789abcdef'), token);
    assert.notEqual(tokens.tokenFor('0123456789abcdee'), token);
    assert.notEqual(other.tokenFor('0123456789abcdef'), token);
    assert.ok(tokens.matches('0123456789abcdef', token));
    assert.ok(!tokens.matches('0123456789abcdef', token.slice(0, -1)));
    assert.ok(!tokens.matches('0123456789abcdef', `${token}0`));
    assert.ok(!tokens.matches('0123456789abcdee', token));
    assert.equal(tokens.pathFor('0123456789abcdef'), `/preview/0123456789abcdef/${token}`);
  });
});

describe('preview content types and covered ranges', () => {
  it('never announces a type that could run as a page of the daemon', () => {
    assert.equal(contentTypeFor('a.MP4'), 'video/mp4');
    for (const name of ['a.html', 'a.htm', 'a.svg', 'a.js', 'a.xml', 'noext']) {
      assert.equal(contentTypeFor(name), 'application/octet-stream', name);
    }
  });

  it('finds where bytes on disk end without a gap', () => {
    const pieces = [
      { start: 0, end: 10 },
      { start: 5, end: 20 },
      { start: 20, end: 30 },
      { start: 40, end: 50 },
    ];
    assert.equal(coveredEnd(pieces, 0), 30);
    assert.equal(coveredEnd(pieces, 25), 30);
    assert.equal(coveredEnd(pieces, 30), 30);
    assert.equal(coveredEnd(pieces, 35), 35);
    assert.equal(coveredEnd(pieces, 45), 50);
  });
});
