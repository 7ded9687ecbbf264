import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  dispositionParameters,
  FALLBACK_FILE_NAME,
  fileNameFor,
  MAX_OUTPUT_NAME_BYTES,
  sanitizeFileName,
} from '../../src/origin/filename.js';

const URL_BASE = 'https://example.test';

describe('fileNameFor', () => {
  const cases: Array<{ name: string; header?: string; url: string; expected: string }> = [
    { name: 'last path segment', url: `${URL_BASE}/dir/file.iso`, expected: 'file.iso' },
    {
      name: 'percent-decoded segment',
      url: `${URL_BASE}/a/my%20file%E2%82%AC.zip`,
      expected: 'my file€.zip',
    },
    { name: 'query string ignored', url: `${URL_BASE}/a/b.tar.gz?sig=abc&x=/y`, expected: 'b.tar.gz' },
    { name: 'trailing slash falls back', url: `${URL_BASE}/dir/`, expected: FALLBACK_FILE_NAME },
    { name: 'bare host falls back', url: URL_BASE, expected: FALLBACK_FILE_NAME },
    {
      name: 'encoded slash in segment',
      url: `${URL_BASE}/a/..%2F..%2Fetc%2Fpasswd`,
      expected: '_.._etc_passwd',
    },
    { name: 'encoded dot-dot segment', url: `${URL_BASE}/a/%2e%2e`, expected: FALLBACK_FILE_NAME },
    { name: 'malformed percent kept', url: `${URL_BASE}/a/100%zz.txt`, expected: '100%zz.txt' },
    {
      name: 'filename param',
      header: 'attachment; filename="report.pdf"',
      url: `${URL_BASE}/x`,
      expected: 'report.pdf',
    },
    {
      name: 'unquoted filename',
      header: 'attachment; filename=report.pdf',
      url: `${URL_BASE}/x`,
      expected: 'report.pdf',
    },
    {
      name: 'filename* preferred',
      header: `attachment; filename="euro.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt`,
      url: `${URL_BASE}/x`,
      expected: '€ rates.txt',
    },
    {
      name: 'filename* first',
      header: `attachment; filename*=utf-8'en'na%C3%AFve.txt; filename="naive.txt"`,
      url: `${URL_BASE}/x`,
      expected: 'naïve.txt',
    },
    {
      name: 'ISO-8859-1 filename*',
      header: `attachment; filename*=ISO-8859-1''caf%E9.txt`,
      url: `${URL_BASE}/x`,
      expected: 'café.txt',
    },
    {
      name: 'invalid UTF-8 in filename* falls back to filename',
      header: `attachment; filename*=UTF-8''%FF%FE.txt; filename="plain.txt"`,
      url: `${URL_BASE}/x`,
      expected: 'plain.txt',
    },
    {
      name: 'unknown charset falls back',
      header: `attachment; filename*=KOI8-R''%F0.txt; filename="plain.txt"`,
      url: `${URL_BASE}/x`,
      expected: 'plain.txt',
    },
    {
      name: 'raw UTF-8 bytes in filename (as Latin-1)',
      header: `attachment; filename="${Buffer.from('ünïcödé.txt', 'utf8').toString('latin1')}"`,
      url: `${URL_BASE}/x`,
      expected: 'ünïcödé.txt',
    },
    {
      name: 'real Latin-1 kept',
      header: 'attachment; filename="caf\u00e9.txt"',
      url: `${URL_BASE}/x`,
      expected: 'café.txt',
    },
    {
      name: 'semicolon and escapes in quotes',
      header: 'attachment; filename="a;b \\"c\\".txt"',
      url: `${URL_BASE}/x`,
      expected: 'a;b _c_.txt',
    },
    {
      name: 'path in filename',
      header: 'attachment; filename="/etc/passwd"',
      url: `${URL_BASE}/x`,
      expected: '_etc_passwd',
    },
    {
      name: 'windows path in filename',
      header: 'attachment; filename="C:\\\\Windows\\\\evil.exe"',
      url: `${URL_BASE}/x`,
      expected: 'C__Windows_evil.exe',
    },
    {
      name: 'traversal in filename',
      header: 'attachment; filename="../../x.sh"',
      url: `${URL_BASE}/y`,
      expected: '_.._x.sh',
    },
    {
      name: 'dot-dot only falls back to URL',
      header: 'attachment; filename=".."',
      url: `${URL_BASE}/y.bin`,
      expected: 'y.bin',
    },
    {
      name: 'hidden file made visible',
      header: 'attachment; filename=".bashrc"',
      url: `${URL_BASE}/x`,
      expected: 'bashrc',
    },
    {
      name: 'empty filename',
      header: 'attachment; filename=""',
      url: `${URL_BASE}/y.bin`,
      expected: 'y.bin',
    },
    { name: 'no filename param', header: 'inline', url: `${URL_BASE}/y.bin`, expected: 'y.bin' },
    { name: 'garbage header', header: ';;==;"', url: `${URL_BASE}/y.bin`, expected: 'y.bin' },
    {
      name: 'control characters',
      header: 'attachment; filename="a\tb\u0001c.txt"',
      url: `${URL_BASE}/x`,
      expected: 'a_b_c.txt',
    },
    {
      name: 'bidi override removed',
      header: `attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe`,
      url: `${URL_BASE}/x`,
      expected: 'invoicefdp.exe',
    },
    {
      name: 'reserved characters',
      header: 'attachment; filename="a<b>c:d|e?f*g.txt"',
      url: `${URL_BASE}/x`,
      expected: 'a_b_c_d_e_f_g.txt',
    },
    {
      name: 'windows device name',
      header: 'attachment; filename="CON.txt"',
      url: `${URL_BASE}/x`,
      expected: '_CON.txt',
    },
    {
      name: 'trimmed',
      header: 'attachment; filename="  spaced.txt . "',
      url: `${URL_BASE}/x`,
      expected: 'spaced.txt',
    },
  ];

  for (const { name, header, url, expected } of cases) {
    it(name, () => {
      assert.equal(fileNameFor(header, url), expected);
    });
  }

  it('truncates to 225 UTF-8 bytes (room for .part, control and temp names), keeping the extension and whole characters', () => {
    assert.equal(MAX_OUTPUT_NAME_BYTES, 225);
    const long = `${'€'.repeat(200)}.tar`;
    const name = fileNameFor(`attachment; filename*=UTF-8''${encodeURIComponent(long)}`, `${URL_BASE}/x`);
    assert.ok(Buffer.byteLength(name) <= MAX_OUTPUT_NAME_BYTES);
    assert.ok(name.endsWith('.tar'));
    assert.equal(name, `${'€'.repeat(73)}.tar`);
    const emoji = fileNameFor(undefined, `${URL_BASE}/${encodeURIComponent('😀'.repeat(100))}`);
    assert.equal(emoji, '😀'.repeat(56));
  });
});

describe('dispositionParameters', () => {
  it('lower-cases names and keeps the first occurrence', () => {
    const params = dispositionParameters('attachment; FileName="a.txt"; filename="b.txt"; size=3');
    assert.deepEqual(
      [...params],
      [
        ['filename', 'a.txt'],
        ['size', '3'],
      ],
    );
  });
});

describe('sanitizeFileName properties', () => {
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({
      unit: fc.constantFrom('.', '/', '\\', ' ', '\u0000', '\u007f', 'a', '%', '2', 'e', 'f', 'C'),
      maxLength: 40,
    }),
  );

  it('never yields a path, a control character, "." or "..", an empty name or more than MAX_OUTPUT_NAME_BYTES', () => {
    fc.assert(
      fc.property(fc.option(anyText, { nil: undefined }), anyText, (header, path) => {
        const name = fileNameFor(
          header === undefined
            ? undefined
            : `attachment; filename="${header}"; filename*=UTF-8''${encodeURIComponent(header).slice(0, 200)}`,
          `${URL_BASE}/${path}`,
        );
        assert.ok(name.length > 0);
        assert.ok(!/[/\\\u0000-\u001f\u007f]/.test(name), JSON.stringify(name));
        assert.notEqual(name, '.');
        assert.notEqual(name, '..');
        assert.ok(!name.startsWith('.'));
        assert.ok(Buffer.byteLength(name) <= MAX_OUTPUT_NAME_BYTES);
      }),
      { numRuns: 10_000 },
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const once = sanitizeFileName(text);
        assert.equal(sanitizeFileName(once), once);
      }),
      { numRuns: 2_000 },
    );
  });
});
