/**
 * The Metalink 4 reader (origin/metalink.ts), the input file's mirrors, and how connections
 * are spread over the mirrors: pure functions, no network.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseInputFile } from '../../src/cli/input-file.js';
import { spreadSlots } from '../../src/client/mirror-set.js';
import { isDdmError } from '../../src/errors.js';
import { parseMetalink, requestOfMetalinkFile } from '../../src/origin/metalink.js';

const doc = (files: string) =>
  `<?xml version="1.0"?><metalink xmlns="urn:ietf:params:xml:ns:metalink">${files}</metalink>`;

const invalid = (text: string, pattern: RegExp) =>
  assert.throws(
    () => parseMetalink(text, 'x.meta4'),
    (error: unknown) => isDdmError(error, 'METALINK_INVALID') && pattern.test((error as Error).message),
  );

describe('Metalink 4', () => {
  test('URLs by priority (none last), the strongest hash, the last part of the name, one entry per file', () => {
    const parsed = parseMetalink(
      doc(`<file name="sub/dir/a.iso"><size>10</size>
        <hash type="sha-1">${'1'.repeat(40)}</hash><hash type="sha-512">${'F'.repeat(128)}</hash>
        <url>http://c/a</url><url priority="2">https://b/a</url><url priority="1">http://a/a</url>
        <url priority="3">http://a/a</url></file>
        <file name="b.iso"><url>http://b/b</url></file>`),
      'x.meta4',
    );
    assert.deepEqual(parsed.files[0], {
      name: 'a.iso',
      size: 10,
      urls: ['http://a/a', 'https://b/a', 'http://c/a'],
      checksum: `sha512=${'f'.repeat(128)}`,
    });
    assert.equal(parsed.files.length, 2);
    assert.deepEqual(requestOfMetalinkFile(parsed.files[0]!, { checksum: true }), {
      url: 'http://a/a',
      mirrors: ['https://b/a', 'http://c/a'],
      size: 10,
      output: 'a.iso',
    });
  });

  test('what ddm cannot use is left out with a notice that hides the query', () => {
    const parsed = parseMetalink(
      doc(`<file name="a"><url>ftp://h/a?token=secret</url><url>http://h/a</url>
        <hash type="sha-384">00</hash><metaurl mediatype="torrent">http://h/a.torrent</metaurl></file>`),
      'x.meta4',
    );
    assert.equal(parsed.notices.length, 3);
    assert.ok(parsed.notices.some((notice) => notice.includes('ftp://h/a?token=…')));
    assert.ok(!parsed.notices.join('\n').includes('secret'));
  });

  test('malformed, empty, without usable URL, with a bad size, hash or name, or a DOCTYPE: METALINK_INVALID', () => {
    invalid('<metalink><file>', /malformed XML/);
    invalid('<other/>', /no <metalink> element/);
    invalid(doc(''), /no <file> element/);
    invalid(doc('<file name="a"><url>ftp://h/a</url></file>'), /no http or https <url>/);
    invalid(doc('<file name="a"><size>-5</size><url>http://h/a</url></file>'), /bad <size> "-5"/);
    invalid(doc('<file name="a"><hash type="sha-256">xyz</hash><url>http://h/a</url></file>'), /bad <hash/);
    invalid(doc('<file name=".."><url>http://h/a</url></file>'), /no usable name/);
    invalid(
      `<!DOCTYPE x [<!ENTITY a "aaaa">]>${doc('<file name="a"><url>http://h/&a;</url></file>')}`,
      /DOCTYPE/,
    );
  });
});

describe('mirrors of an input file and of the connections', () => {
  test('TAB-separated URIs and mirror= lines are mirrors of the line’s URL', () => {
    const [entry] = parseInputFile('http://a/f\thttp://b/f\n  mirror=http://c/f\n  out=f.bin\n', 'list.txt');
    assert.deepEqual(entry, {
      url: 'http://a/f',
      options: { mirrors: ['http://b/f', 'http://c/f'], output: 'f.bin' },
      line: 1,
    });
  });

  test('connections go round the origins, the primary first, one each at least', () => {
    assert.deepEqual(spreadSlots(4, 1), [4]);
    assert.deepEqual(spreadSlots(7, 3), [3, 2, 2]);
    assert.deepEqual(spreadSlots(2, 3), [1, 1, 1]);
  });
});
