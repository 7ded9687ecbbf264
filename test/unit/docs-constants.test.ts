/**
 * The figures the docs quote are the figures the code uses. Every quoted figure carries a marker
 * right after it, `64 KiB<!-- const: MAX_JSON_BODY_BYTES -->`, naming the constant it quotes
 * (optionally scaled, `AUTH_WINDOW_MS*2`, or with the unit the text leaves implicit,
 * `DEFAULT_TIMEOUT_MS in s`). This test reads each figure, converts the constant to the figure's
 * unit, and fails when they differ: a constant changed without its doc, or a doc without its code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  COMMON_OPTIONS,
  GET_OPTIONS,
  type OptionSpec,
  PEER_OPTIONS,
  TRACKER_OPTIONS,
} from '../../src/cli/option-specs.js';
import * as constants from '../../src/constants.js';
import { nonPublicRange } from '../../src/peer/guard-address.js';

const DOCS = [
  'README.md',
  'docs/PROTOCOL.md',
  'docs/SECURITY.md',
  'docs/DISCOVERY.md',
  'docs/RPC.md',
] as const;
/** Fewer markers than this means the markers were lost, not that the docs quote fewer figures. */
const MIN_MARKERS = 60;

/** Constants the docs may quote: src/constants.ts, plus the few kept beside the code they bound. */
const QUOTABLE: Record<string, unknown> = { ...constants };

const BYTE_UNITS: Record<string, number> = { B: 1, bytes: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const TIME_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, min: 60_000, h: 3_600_000 };
const WORD_NUMBERS: Record<string, number> = { once: 1, twice: 2, thrice: 3 };

interface Marker {
  doc: string;
  line: number;
  /** The text before the marker on its line. */
  before: string;
  constant: string;
  scale: number;
  impliedUnit: string | undefined;
}

const MARKER = /<!-- const: ([A-Z][A-Z0-9_]*)(?:\*(\d+))?(?: in ([A-Za-z%]+))? -->/g;

function markersIn(doc: string): Marker[] {
  const found: Marker[] = [];
  readFileSync(doc, 'utf8')
    .split('\n')
    .forEach((text, index) => {
      for (const match of text.matchAll(MARKER)) {
        found.push({
          doc,
          line: index + 1,
          before: text.slice(0, match.index),
          constant: match[1] ?? '',
          scale: Number(match[2] ?? 1),
          impliedUnit: match[3],
        });
      }
    });
  return found;
}

const ALL_MARKERS = DOCS.flatMap(markersIn);

/** The figure that ends `before`: a number (thousands split by a space or a comma) and its unit. */
function quotedFigure(before: string): { value: number; unit: string | undefined } | undefined {
  const numeric = /(\d{1,3}(?:[ ,]\d{3})+|\d+(?:\.\d+)?) ?(KiB|MiB|GiB|bytes|B|ms|s|min|h|%)?`?$/.exec(
    before,
  );
  if (numeric) return { value: Number((numeric[1] ?? '').replace(/[ ,]/g, '')), unit: numeric[2] };
  const word = /\b(once|twice|thrice)$/i.exec(before);
  if (word) return { value: WORD_NUMBERS[(word[1] ?? '').toLowerCase()] ?? Number.NaN, unit: undefined };
  return undefined;
}

/** The constant's value in the unit the doc uses; the constant's unit comes from its name. */
function inDocUnit(name: string, value: number, unit: string | undefined): number {
  if (unit === undefined) return value;
  if (unit === '%') return value * 100;
  if (unit in BYTE_UNITS) return value / (BYTE_UNITS[unit] ?? Number.NaN);
  if (unit in TIME_UNITS_MS) {
    const valueMs = name.endsWith('_MS') ? value : name.endsWith('_S') ? value * 1_000 : Number.NaN;
    assert.ok(!Number.isNaN(valueMs), `${name} is quoted as a time but its name has no _MS or _S`);
    return valueMs / (TIME_UNITS_MS[unit] ?? Number.NaN);
  }
  assert.fail(`unknown unit ${unit}`);
}

function checkMarker(marker: Marker): string | undefined {
  const where = `${marker.doc}:${marker.line} (${marker.constant})`;
  if (!(marker.constant in QUOTABLE)) return `${where}: no such constant`;
  const value = QUOTABLE[marker.constant];
  if (typeof value === 'string') {
    const quoted = /[`"]?([^`"\s]+)[`"]*$/.exec(marker.before)?.[1];
    return quoted === value ? undefined : `${where}: the doc says ${quoted}, the code ${value}`;
  }
  if (typeof value !== 'number') return `${where}: not a number or a string`;
  const figure = quotedFigure(marker.before);
  if (figure === undefined) return `${where}: no figure right before the marker`;
  const unit = figure.unit ?? marker.impliedUnit;
  const expected = inDocUnit(marker.constant, value * marker.scale, unit);
  return Math.abs(expected - figure.value) < 1e-9
    ? undefined
    : `${where}: the doc says ${figure.value}${unit ?? ''}, the code ${expected}${unit ?? ''}`;
}

describe('figures quoted in the docs', () => {
  test(`every marked figure equals its constant (${ALL_MARKERS.length} markers)`, () => {
    const wrong = ALL_MARKERS.map(checkMarker).filter((problem) => problem !== undefined);
    assert.deepEqual(wrong, []);
  });

  test('every doc is marked, and enough figures are to catch lost markers', () => {
    assert.ok(ALL_MARKERS.length >= MIN_MARKERS, `only ${ALL_MARKERS.length} markers`);
    for (const doc of DOCS) {
      assert.ok(
        ALL_MARKERS.some((marker) => marker.doc === doc),
        `${doc} has no marker`,
      );
    }
  });

  test('a marker that does not follow its figure is refused', () => {
    const broken: Marker = {
      doc: 'x',
      line: 1,
      before: 'no figure here ',
      constant: 'STALL_TIMEOUT_MS',
      scale: 1,
      impliedUnit: undefined,
    };
    assert.match(checkMarker(broken) ?? '', /no figure/);
    assert.match(checkMarker({ ...broken, before: 'stalled after 16 s' }) ?? '', /the doc says 16s/);
    assert.equal(checkMarker({ ...broken, before: 'stalled after 15 s' }), undefined);
    assert.equal(checkMarker({ ...broken, before: 'stalled after 15 000 ms' }), undefined);
  });
});

describe('defaults the README quotes for options', () => {
  // The option table has its own literals; they must be the constants the README is checked against.
  const defaults = (specs: readonly OptionSpec[]) =>
    Object.fromEntries([...COMMON_OPTIONS, ...specs].map((spec) => [spec.key, spec.defaultValue] as const));

  test('ddm get', () => {
    const get = defaults(GET_OPTIONS);
    assert.equal(get.connections, constants.DEFAULT_CONNECTIONS);
    assert.equal(get.maxTries, constants.DEFAULT_MAX_TRIES);
    assert.equal(get.timeout, constants.DEFAULT_TIMEOUT_MS / 1_000);
    assert.equal(get.discoverTimeout, constants.DISCOVERY_BROWSE_TIMEOUT_MS / 1_000);
  });

  test('ddm tracker and ddm peer', () => {
    assert.equal(defaults(TRACKER_OPTIONS).heartbeat, constants.HEARTBEAT_INTERVAL_MS / 1_000);
    assert.equal(defaults(TRACKER_OPTIONS).listen, `0.0.0.0:${constants.DEFAULT_TRACKER_PORT}`);
    assert.equal(defaults(PEER_OPTIONS).slots, constants.DEFAULT_PEER_SLOTS);
    assert.equal(defaults(PEER_OPTIONS).listen, `0.0.0.0:${constants.DEFAULT_PEER_PORT}`);
  });
});

describe('what SECURITY.md says a peer refuses', () => {
  const security = readFileSync('docs/SECURITY.md', 'utf8');

  test('the ports it names are refused, the usual HTTP ports are not', () => {
    const paragraph = /\*\*Ports\.\*\*([\s\S]*?)\n\n/.exec(security)?.[1] ?? '';
    const named = [...paragraph.matchAll(/\((\d+(?:, \d+)*)\)|port (\d+)/g)].flatMap((match) =>
      (match[1] ?? match[2] ?? '').split(', ').map(Number),
    );
    assert.ok(named.length >= 8, `found only ${named.length} ports in the paragraph`);
    for (const port of named) assert.ok(constants.FORBIDDEN_PORTS.includes(port), `port ${port}`);
    const allowed = (/HTTP's usual ports \(([\d,\s]+)/.exec(paragraph)?.[1] ?? '')
      .split(/,\s*/)
      .filter((text) => text !== '')
      .map(Number);
    assert.ok(allowed.length >= 4, `found only ${allowed.length} usual ports`);
    for (const port of allowed) assert.ok(!constants.FORBIDDEN_PORTS.includes(port), `port ${port}`);
  });

  test('every range of the address table is refused, first and last address', () => {
    const rows = security.split('\n').filter((line) => /^\| `[0-9a-f:.]+(\/\d+)?`/.test(line));
    const cidrs = rows.flatMap((row) =>
      [...(row.split('|')[1] ?? '').matchAll(/`([0-9a-f:.]+(?:\/\d+)?)`/g)].map((match) => match[1] ?? ''),
    );
    assert.ok(cidrs.length >= 25, `found only ${cidrs.length} ranges`);
    for (const cidr of cidrs) {
      for (const address of firstAndLast(cidr)) {
        assert.notEqual(nonPublicRange(address), undefined, `${address} (from ${cidr}) is judged public`);
      }
    }
  });

  test('the examples it gives are judged as it says', () => {
    for (const refused of ['::ffff:127.0.0.1', '64:ff9b::10.0.0.1', '2002:c0a8:0101::', '169.254.169.254']) {
      assert.notEqual(nonPublicRange(refused), undefined, refused);
    }
    assert.equal(nonPublicRange('::ffff:8.8.8.8'), undefined);
  });
});

/** The first and last address of a CIDR range (a bare address is a range of one). */
function firstAndLast(cidr: string): string[] {
  const [base = '', bitsText] = cidr.split('/');
  if (base.includes(':')) {
    const bits = bitsText === undefined ? 128 : Number(bitsText);
    const value = ipv6ToBigInt(base);
    const hostMask = (1n << BigInt(128 - bits)) - 1n;
    return [bigIntToIpv6(value & ~hostMask), bigIntToIpv6(value | hostMask)];
  }
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const value = base.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
  const size = 2 ** (32 - bits);
  const first = value - (value % size);
  return [ipv4(first), ipv4(first + size - 1)];
}

function ipv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function ipv6ToBigInt(text: string): bigint {
  const [head = '', tail] = text.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((sum, group) => (sum << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

function bigIntToIpv6(value: bigint): string {
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  return groups.join(':');
}
