/**
 * Property-based checks of URL and file name handling: any text is an http(s) URL or a
 * URL_INVALID DdmError, and any Content-Disposition and URL give a file name that is safe to
 * create, never an exception.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DdmError } from '../../src/errors.js';
import { dispositionParameters, fileNameFor, sanitizeFileName } from '../../src/origin/filename.js';
import { describeUrl, parseOriginUrl } from '../../src/origin/origin-url.js';

const RUNS = 10_000;

/** Lone surrogates and other UTF-16 oddities included. */
const anyText = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: fc.nat(0xffff).map((code) => String.fromCharCode(code)), maxLength }),
  );

const urlLike = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true, authoritySettings: { withUserInfo: true } }),
  anyText(80),
  fc
    .tuple(
      fc.constantFrom(
        'http://',
        'https://',
        'HTTP://',
        'ftp://',
        'file:///',
        'javascript:',
        '//',
        'http:',
        '',
      ),
      fc.constantFrom('', 'user:pw@', '@', '[', '[::1]', '127.1', '0x7f.1', '%zz', 'a b', 'xn--a'),
      anyText(20),
      fc.constantFrom('', ':', ':0', ':65536', ':99999999', '/../..', '?q=%', '#\u0000'),
    )
    .map((parts) => parts.join('')),
);

describe('origin URLs under random input', () => {
  test(`${RUNS} strings, with and without a base: an http(s) URL or URL_INVALID`, () => {
    fc.assert(
      fc.property(urlLike, fc.option(urlLike), (input, base) => {
        let url: URL;
        try {
          url = parseOriginUrl(input, base ?? undefined);
        } catch (error) {
          assert.ok(error instanceof DdmError, `not a DdmError: ${String(error)}`);
          assert.equal(error.code, 'URL_INVALID');
          assert.ok(error.message.length < 400, 'the message quotes a bounded part of the input');
          return;
        }
        assert.ok(url.protocol === 'http:' || url.protocol === 'https:');
        // What messages show of it carries no credentials, query or fragment.
        const described = new URL(describeUrl(url));
        assert.equal(described.username, '');
        assert.equal(described.password, '');
        assert.ok(described.search === '' || described.search === '?%E2%80%A6');
        assert.equal(described.hash, '');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('file names under random input', () => {
  test(`${RUNS} Content-Disposition values and URLs: a name safe to create`, () => {
    const disposition = fc.oneof(
      anyText(120),
      fc
        .tuple(
          fc.constantFrom('attachment', 'inline', '', 'attachment;;'),
          fc.constantFrom(
            '; filename=',
            '; filename*=',
            '; FILENAME="',
            "; filename*=UTF-8''",
            '; filename*=x',
          ),
          anyText(60),
          fc.constantFrom('', '"', '\\', '%', '%e2%82', '%ZZ', '; filename=b'),
        )
        .map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(fc.option(disposition), urlLike, (header, url) => {
        const name = fileNameFor(header ?? undefined, url);
        assertSafeName(name);
        assert.ok(dispositionParameters(header ?? '') instanceof Map);
      }),
      { numRuns: RUNS },
    );
  });

  test(`${RUNS} raw names are sanitized idempotently`, () => {
    fc.assert(
      fc.property(anyText(300), (raw) => {
        const safe = sanitizeFileName(raw);
        if (safe === '') return;
        assertSafeName(safe);
        assert.equal(sanitizeFileName(safe), safe);
      }),
      { numRuns: RUNS },
    );
  });
});

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function assertSafeName(name: string): void {
  assert.ok(name.length > 0);
  assert.ok(Buffer.byteLength(name) <= 255, `${Buffer.byteLength(name)} bytes`);
  assert.doesNotMatch(name, /[/\\<>:"|?*\u0000-\u001f\u007f-\u009f]/);
  assert.ok(!name.startsWith('.') && !name.endsWith('.') && name.trim() === name);
  assert.doesNotMatch(name, LONE_SURROGATE, 'valid UTF-16, so valid UTF-8 on disk');
}
