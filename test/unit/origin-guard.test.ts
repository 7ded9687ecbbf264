/**
 * The SSRF guard's pure parts: the address classifier over a table of addresses (only
 * classified, never dialled), and the URL check over spellings as they reach it after
 * WHATWG URL parsing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FORBIDDEN_PORTS } from '../../src/constants.js';
import { isLoopbackName, literalAddress, numericName } from '../../src/peer/guard-host.js';
import { assertAllowedUrl, isPublicAddress, nonPublicRange } from '../../src/peer/origin-guard.js';

/** Public addresses, including the first and last outside each neighbouring special range. */
const PUBLIC = [
  '1.1.1.1',
  '1.0.0.1',
  '8.8.8.8',
  '8.8.4.4',
  '9.9.9.9',
  '93.184.216.34',
  '9.255.255.255',
  '11.0.0.0',
  '100.63.255.255',
  '100.128.0.0',
  '126.255.255.255',
  '128.0.0.0',
  '169.253.255.255',
  '169.255.0.0',
  '172.15.255.255',
  '172.32.0.0',
  '192.0.1.255',
  '192.0.3.0',
  '192.88.98.255',
  '192.167.255.255',
  '192.169.0.0',
  '198.17.255.255',
  '198.20.0.0',
  '198.51.99.255',
  '203.0.112.255',
  '223.255.255.255',
  '2606:4700::1111',
  '2606:4700:4700::1111',
  '2001:4860:4860::8888',
  '2a00:1450:4001:80b::200e',
  '2400:cb00:2048:1::c629:d7a2',
  '2001:200::1',
  '2001:dba::1',
  '3fff:1000::1',
  '2003::1',
  '::ffff:8.8.8.8',
  '::ffff:808:808',
  '64:ff9b::8.8.8.8',
  '64:ff9b::101:101',
  '2002:808:808::1',
] as const;

/** Every special range, at its edges, and every IPv6 form that carries a special IPv4 address. */
const NOT_PUBLIC: readonly (readonly [address: string, range: RegExp])[] = [
  ['0.0.0.0', /this-network/],
  ['0.255.255.255', /this-network/],
  ['10.0.0.0', /private \(10/],
  ['10.255.255.255', /private/],
  ['100.64.0.0', /CGNAT/],
  ['100.127.255.255', /CGNAT/],
  ['127.0.0.1', /loopback/],
  ['127.0.0.0', /loopback/],
  ['127.255.255.255', /loopback/],
  ['127.1.2.3', /loopback/],
  ['169.254.0.0', /link-local/],
  ['169.254.169.254', /link-local/],
  ['169.254.255.255', /link-local/],
  ['172.16.0.0', /private \(172/],
  ['172.31.255.255', /private/],
  ['192.0.0.0', /IETF/],
  ['192.0.0.170', /IETF/],
  ['192.0.0.255', /IETF/],
  ['192.0.2.1', /documentation/],
  ['192.88.99.1', /6to4 relay/],
  ['192.168.0.0', /private \(192/],
  ['192.168.1.1', /private/],
  ['192.168.255.255', /private/],
  ['198.18.0.0', /benchmarking/],
  ['198.19.255.255', /benchmarking/],
  ['198.51.100.7', /documentation/],
  ['203.0.113.9', /documentation/],
  ['224.0.0.1', /multicast/],
  ['239.255.255.250', /multicast/],
  ['240.0.0.1', /reserved/],
  ['254.1.1.1', /reserved/],
  ['255.255.255.255', /broadcast/],
  ['::', /unspecified/],
  ['::1', /loopback/],
  ['0:0:0:0:0:0:0:1', /loopback/],
  ['0000:0000:0000:0000:0000:0000:0000:0001', /loopback/],
  ['::0.0.0.1', /loopback/],
  ['::2', /IPv4-compatible/],
  ['::127.0.0.1', /IPv4-compatible/],
  ['::7f00:1', /IPv4-compatible/],
  ['::8.8.8.8', /IPv4-compatible/],
  ['::ffff:127.0.0.1', /mapped form of 127\.0\.0\.1, loopback/],
  ['::ffff:7f00:1', /mapped form of 127\.0\.0\.1/],
  ['::FFFF:7F00:1', /mapped form/],
  ['0:0:0:0:0:ffff:127.0.0.1', /mapped form/],
  ['::ffff:10.0.0.1', /mapped form of 10\.0\.0\.1, private/],
  ['::ffff:169.254.169.254', /link-local/],
  ['::ffff:0.0.0.0', /this-network/],
  ['::ffff:100.64.0.1', /CGNAT/],
  ['::ffff:255.255.255.255', /broadcast/],
  ['::ffff:0:7f00:1', /IPv4-translated/],
  ['::ffff:0:808:808', /IPv4-translated/],
  ['64:ff9b::127.0.0.1', /NAT64 form of 127\.0\.0\.1/],
  ['64:ff9b::7f00:1', /NAT64 form/],
  ['64:ff9b::a00:1', /NAT64 form of 10\.0\.0\.1/],
  ['64:ff9b::c0a8:101', /NAT64 form of 192\.168\.1\.1/],
  ['64:ff9b::a9fe:a9fe', /NAT64 form of 169\.254\.169\.254/],
  ['64:ff9b::ac10:1', /NAT64 form of 172\.16\.0\.1/],
  ['64:ff9b::6440:1', /NAT64 form of 100\.64\.0\.1/],
  ['64:ff9b:1::808:808', /local-use NAT64/],
  ['64:ff9b:1:ffff::7f00:1', /local-use NAT64/],
  ['2002:7f00:1::1', /6to4 form of 127\.0\.0\.1/],
  ['2002:a00:1::', /6to4 form of 10\.0\.0\.1/],
  ['2002:c0a8:101::1', /6to4 form of 192\.168\.1\.1/],
  ['2002:a9fe:a9fe::', /6to4 form of 169\.254/],
  ['2002:0:1::', /6to4 form of 0\.0\.0\.1/],
  ['2001::1', /IETF protocol assignments/],
  // Teredo: server 65.54.227.120, client 127.0.0.1 (stored inverted as 80ff:fffe).
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', /IETF protocol assignments/],
  ['2001:2::1', /IETF/],
  ['2001:10::1', /IETF/],
  ['2001:1ff:ffff::1', /IETF/],
  ['2001:db8::1', /documentation/],
  ['2001:db8:ffff::1', /documentation/],
  ['3fff::1', /documentation/],
  ['3fff:fff:ffff::1', /documentation/],
  ['100::1', /discard-only/],
  ['fc00::1', /unique local/],
  ['fd12:3456:789a::1', /unique local/],
  ['fdff:ffff::1', /unique local/],
  ['fe80::1', /link-local/],
  ['fe80::1%eth0', /link-local/],
  ['febf:ffff::1', /link-local/],
  ['fec0::1', /site-local/],
  ['ff00::1', /multicast/],
  ['ff02::1', /multicast/],
  ['ff05::1:3', /multicast/],
  ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', /multicast/],
  ['1::1', /outside 2000::\/3/],
  ['4000::1', /outside 2000::\/3/],
  ['5f00::1', /outside 2000::\/3/],
  ['e000::1', /outside 2000::\/3/],
  ['1fff:ffff::1', /outside 2000::\/3/],
  ['', /not an IP address/],
  ['localhost', /not an IP address/],
  ['not-an-address', /not an IP address/],
  ['[::1]', /not an IP address/],
  ['::ffff:999.0.0.1', /not an IP address/],
  ['::1.2.3.04x', /not an IP address/],
  ['1.2.3.4.5', /not an IP address/],
  ['fe80::1%', /not an IP address/],
  // Spellings a resolver may accept: the classifier reads them as the address they mean.
  ['2130706433', /loopback/],
  ['0x7f000001', /loopback/],
  ['0177.0.0.1', /loopback/],
  ['127.1', /loopback/],
  ['0', /this-network/],
];

describe('address classifier', () => {
  test(`the table has at least 100 addresses (${PUBLIC.length + NOT_PUBLIC.length})`, () => {
    assert.ok(PUBLIC.length + NOT_PUBLIC.length >= 100);
  });

  test('public addresses pass', () => {
    for (const address of PUBLIC) {
      assert.equal(nonPublicRange(address), undefined, address);
      assert.equal(isPublicAddress(address), true, address);
    }
  });

  test('every special range is refused, and the reason names it', () => {
    for (const [address, range] of NOT_PUBLIC) {
      assert.equal(isPublicAddress(address), false, address);
      assert.match(nonPublicRange(address) ?? '', range, address);
    }
  });

  test('::a.b.c.d is read as the address it is, not as ::ffff:a.b.c.d', () => {
    // ipaddr.js alone parses '::8.8.8.8' as the public '::ffff:8.8.8.8'.
    assert.equal(isPublicAddress('::8.8.8.8'), false);
    assert.equal(isPublicAddress('::ffff:8.8.8.8'), true);
  });
});

function refusal(url: string, allowPrivate = false): string | undefined {
  try {
    assertAllowedUrl(new URL(url), allowPrivate);
    return undefined;
  } catch (error) {
    assert.equal((error as { code?: string }).code, 'FORBIDDEN_DESTINATION', url);
    return (error as Error).message;
  }
}

/**
 * Spellings of loopback and of other non-public hosts, with what WHATWG URL parsing makes of
 * the host: the check sees only that, and must refuse each.
 */
const REFUSED_SPELLINGS: readonly (readonly [url: string, hostAfterParsing: string])[] = [
  ['http://127.0.0.1/', '127.0.0.1'],
  ['http://2130706433/', '127.0.0.1'],
  ['http://0x7f000001/', '127.0.0.1'],
  ['http://0X7F000001/', '127.0.0.1'],
  ['http://0x7f.0.0.1/', '127.0.0.1'],
  ['http://0x7f.1/', '127.0.0.1'],
  ['http://0177.0.0.1/', '127.0.0.1'],
  ['http://017700000001/', '127.0.0.1'],
  ['http://0177.0x0.0.01/', '127.0.0.1'],
  ['http://127.1/', '127.0.0.1'],
  ['http://127.0.1/', '127.0.0.1'],
  ['http://127.000.000.001/', '127.0.0.1'],
  ['http://127.0.0.1./', '127.0.0.1'],
  ['http://127.0.0.1%2e/', '127.0.0.1'],
  ['http://%31%32%37.0.0.1/', '127.0.0.1'],
  ['http://１２７.０.０.１/', '127.0.0.1'],
  ['http://127。0。0。1/', '127.0.0.1'],
  ['http://①②⑦.0.0.1/', '127.0.0.1'],
  ['HTTP://127.0.0.1/', '127.0.0.1'],
  ['http://0/', '0.0.0.0'],
  ['http://0x0/', '0.0.0.0'],
  ['http://4294967295/', '255.255.255.255'],
  ['http://0xa9fea9fe/', '169.254.169.254'],
  ['http://10.1/', '10.0.0.1'],
  ['http://192.168.1/', '192.168.0.1'],
  ['http://0xac.0x10.0.1/', '172.16.0.1'],
  ['http://100.64.0.1/', '100.64.0.1'],
  ['http://198.18.0.1/', '198.18.0.1'],
  ['http://224.0.0.1/', '224.0.0.1'],
  ['http://[::1]/', '[::1]'],
  ['http://[0:0:0:0:0:0:0:1]/', '[::1]'],
  ['http://[::0:1]/', '[::1]'],
  ['http://[::]/', '[::]'],
  ['http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]'],
  ['http://[::FFFF:127.0.0.1]/', '[::ffff:7f00:1]'],
  ['http://[::ffff:7f00:1]/', '[::ffff:7f00:1]'],
  ['http://[::ffff:0:7f00:1]/', '[::ffff:0:7f00:1]'],
  ['http://[::127.0.0.1]/', '[::7f00:1]'],
  ['http://[64:ff9b::127.0.0.1]/', '[64:ff9b::7f00:1]'],
  ['http://[64:ff9b:1::a00:1]/', '[64:ff9b:1::a00:1]'],
  ['http://[2002:7f00:1::1]/', '[2002:7f00:1::1]'],
  ['http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/', '[2001:0:4136:e378:8000:63bf:80ff:fffe]'],
  ['http://[fe80::1]/', '[fe80::1]'],
  ['http://[FD00::1]/', '[fd00::1]'],
  ['http://[ff02::1]/', '[ff02::1]'],
  ['https://[::1]:8443/', '[::1]'],
  // Not an IPv4 address to URL parsing, but a resolver may read it as one.
  ['http://127.0.0.1../', '127.0.0.1..'],
];

describe('URL check', () => {
  test('what URL parsing hands to the check, and that the check refuses it', () => {
    for (const [url, host] of REFUSED_SPELLINGS) {
      assert.equal(new URL(url).hostname, host, url);
      assert.ok(refusal(url), `${url} was allowed`);
      assert.equal(refusal(url, true), undefined, `${url} with allowPrivate`);
    }
  });

  test('URL parsing already refuses zone ids, out-of-range numbers and broken brackets', () => {
    for (const url of [
      'http://[fe80::1%25eth0]/',
      'http://[::ffff:127.0.0.1%25lo]/',
      'http://4294967296/',
      'http://1.2.3.4.5/',
      'http://[::1/',
      'http://256.0.0.1/',
    ]) {
      assert.throws(() => new URL(url), TypeError, url);
    }
  });

  test('a refusal says what and why, and points at --allow-private', () => {
    assert.match(
      refusal('http://2130706433:8080/') ?? '',
      /^refusing to fetch 127\.0\.0\.1: 127\.0\.0\.1 is a private address, loopback/,
    );
    assert.match(
      refusal('http://[::ffff:a00:1]/') ?? '',
      /mapped form of 10\.0\.0\.1, private.*--allow-private/,
    );
  });

  test('only http and https, even with allowPrivate', () => {
    for (const url of [
      'ftp://example.org/file',
      'file:///etc/passwd',
      'gopher://example.org:70/',
      'ws://example.org/',
      'wss://example.org/',
      'data:text/plain,hi',
      'javascript:alert(1)',
      'dict://example.org:2628/',
      'ldap://example.org/',
      'sftp://example.org/',
    ]) {
      assert.match(refusal(url, true) ?? '', /only http and https/, url);
    }
  });

  test('credentials are refused, even with allowPrivate, and never echoed', () => {
    for (const url of [
      'http://alice:s3cret@example.org/',
      'http://alice@example.org/',
      'http://:s3cret@example.org/',
      'https://alice.example.org@8.8.8.8/',
      'http://al%40ice:s3%3Acret@example.org/',
    ]) {
      const message = refusal(url, true) ?? '';
      assert.match(message, /credentials/, url);
      assert.doesNotMatch(message, /alice|s3/, url);
    }
  });

  test('deny-listed ports are refused, even with allowPrivate; HTTP ports are not', () => {
    for (const port of [
      0, 1, 7, 19, 21, 22, 23, 25, 53, 110, 143, 465, 587, 993, 995, 2375, 2376, 3306, 5432,
    ]) {
      assert.match(
        refusal(`http://example.org:${port}/`, true) ?? '',
        new RegExp(`port ${port} `),
        `${port}`,
      );
    }
    for (const port of [6379, 11211, 27017, 6000, 10080]) {
      assert.ok(refusal(`https://8.8.8.8:${port}/`), `${port}`);
    }
    for (const port of [80, 443, 8000, 8080, 8443, 3000, 9000, 32768, 60999, 65535]) {
      assert.equal(refusal(`http://example.org:${port}/`), undefined, `${port}`);
    }
    assert.equal(refusal('http://example.org/'), undefined);
    assert.equal(refusal('https://example.org/'), undefined);
    assert.ok(FORBIDDEN_PORTS.includes(0) && FORBIDDEN_PORTS.includes(6379));
    assert.ok(!FORBIDDEN_PORTS.includes(80) && !FORBIDDEN_PORTS.includes(443));
  });

  test('public literals and names pass; names are judged when dialled', () => {
    for (const url of [
      'https://8.8.8.8/file',
      'http://1.1.1.1:8080/file',
      'http://[2606:4700::1111]/file',
      'http://[::ffff:8.8.8.8]/file',
      'http://134744072/file',
      'https://downloads.example.org/file',
      'http://localhost/file',
      'http://foo.localhost/file',
      'http://intranet/file',
      'http://@example.org/file',
    ]) {
      assert.equal(refusal(url), undefined, url);
    }
  });
});

describe('host reading', () => {
  test('literalAddress matches what net.connect dials without a lookup', () => {
    assert.equal(literalAddress('127.0.0.1'), '127.0.0.1');
    assert.equal(literalAddress('[::1]'), '::1');
    assert.equal(literalAddress('::1'), '::1');
    assert.equal(literalAddress('[::ffff:7f00:1]'), '::ffff:7f00:1');
    assert.equal(literalAddress('127.1'), undefined);
    assert.equal(literalAddress('127.0.0.1.'), undefined);
    assert.equal(literalAddress('localhost'), undefined);
  });

  test('numericName reads names a resolver could take for numbers', () => {
    assert.equal(numericName('127.0.0.1.'), '127.0.0.1');
    assert.equal(numericName('127.0.0.1...'), '127.0.0.1');
    assert.equal(numericName('127.1.'), '127.1');
    assert.equal(numericName('0x7f.1'), '0x7f.1');
    assert.equal(numericName('example.org'), undefined);
    assert.equal(numericName('...'), undefined);
  });

  test('localhost and everything under it are loopback names', () => {
    for (const name of [
      'localhost',
      'LOCALHOST',
      'localhost.',
      'localhost..',
      'a.localhost',
      'a.b.LocalHost.',
    ]) {
      assert.equal(isLoopbackName(name), true, name);
    }
    for (const name of ['localhost.example.org', 'notlocalhost', 'localhosts', 'example.org']) {
      assert.equal(isLoopbackName(name), false, name);
    }
  });
});
