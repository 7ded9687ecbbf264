/**
 * The local file name for a download: from Content-Disposition (RFC 6266) or the URL,
 * made safe to create in any directory on any common file system.
 */
import { MAX_FILE_NAME_BYTES, SIDE_FILE_NAME_BYTES } from '../constants.js';

export const FALLBACK_FILE_NAME = 'download';
/** Room left for ddm's `.part`, control and temp names beside the file, so none of them is too long. */
export const MAX_OUTPUT_NAME_BYTES = MAX_FILE_NAME_BYTES - SIDE_FILE_NAME_BYTES;
/** An extension longer than this is not worth keeping when a long name is shortened. */
const MAX_KEPT_EXTENSION_CHARS = 16;

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
/** Direction overrides can make "gpj.exe" display as "exe.jpg". */
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** Path separators and the characters Windows forbids in names. */
const FORBIDDEN_CHARACTERS = /[/\\<>:"|?*]/g;
const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const WINDOWS_DEVICE_NAMES = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

export function fileNameFor(contentDisposition: string | undefined, url: string): string {
  const params =
    contentDisposition === undefined ? new Map<string, string>() : dispositionParameters(contentDisposition);
  const extended = params.get('filename*');
  const candidates = [
    extended === undefined ? undefined : decodeExtendedValue(extended),
    params.has('filename') ? utf8IfPossible(params.get('filename')!) : undefined,
    lastPathSegment(url),
  ];
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    const safe = sanitizeFileName(candidate);
    if (safe !== '') return safe;
  }
  return FALLBACK_FILE_NAME;
}

/** A name with no path, no control characters, no leading dot, at most MAX_OUTPUT_NAME_BYTES UTF-8 bytes; maybe ''. */
export function sanitizeFileName(name: string): string {
  let safe = name
    .replace(LONE_SURROGATES, '_')
    .normalize('NFC')
    .replace(CONTROL_CHARACTERS, '_')
    .replace(BIDI_CONTROLS, '')
    .replace(FORBIDDEN_CHARACTERS, '_');
  safe = trimEdges(safe);
  if (WINDOWS_DEVICE_NAMES.test(safe)) safe = `_${safe}`;
  return trimEdges(truncateUtf8(safe, MAX_OUTPUT_NAME_BYTES));
}

/** Leading dots would hide the file (or make "." and ".."); Windows drops trailing dots and spaces. */
function trimEdges(name: string): string {
  return name
    .trim()
    .replace(/^[.\s]+/u, '')
    .replace(/[.\s]+$/u, '');
}

/** Shortens the stem, keeping a short extension, without cutting a character in two. */
function truncateUtf8(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name;
  const extension = new RegExp(`\\.[^.]{1,${MAX_KEPT_EXTENSION_CHARS}}$`).exec(name)?.[0] ?? '';
  const stem = name.slice(0, name.length - extension.length);
  let budget = maxBytes - Buffer.byteLength(extension);
  let kept = '';
  for (const character of stem) {
    budget -= Buffer.byteLength(character);
    if (budget < 0) break;
    kept += character;
  }
  return kept + extension;
}

/**
 * Parameters of a Content-Disposition value, names lower-cased; the first occurrence wins.
 * Quoted strings may hold ';' and backslash escapes.
 */
export function dispositionParameters(header: string): Map<string, string> {
  const params = new Map<string, string>();
  let at = 0;
  while (at < header.length) {
    const nameEnd = indexOfAny(header, '=;', at);
    const name = header.slice(at, nameEnd).trim().toLowerCase();
    if (header[nameEnd] !== '=') {
      at = nameEnd + 1; // the disposition type, or a stray token
      continue;
    }
    const { value, end } = readValue(header, nameEnd + 1);
    if (name !== '' && !params.has(name)) params.set(name, value);
    at = end + 1;
  }
  return params;
}

function readValue(header: string, from: number): { value: string; end: number } {
  let at = from;
  while (header[at] === ' ' || header[at] === '\t') at += 1;
  if (header[at] !== '"') {
    const end = indexOfAny(header, ';', at);
    return { value: header.slice(at, end).trim(), end };
  }
  let value = '';
  for (at += 1; at < header.length && header[at] !== '"'; at += 1) {
    if (header[at] === '\\' && at + 1 < header.length) at += 1;
    value += header[at];
  }
  return { value, end: indexOfAny(header, ';', at) };
}

function indexOfAny(text: string, characters: string, from: number): number {
  for (let at = from; at < text.length; at += 1) {
    if (characters.includes(text[at]!)) return at;
  }
  return text.length;
}

/** RFC 8187 ext-value: charset'language'percent-encoded. */
function decodeExtendedValue(value: string): string | undefined {
  const match = /^([A-Za-z0-9!#$%&+^_`{}~-]+)'[^']*'(.*)$/.exec(value);
  if (match === null) return undefined;
  const charset = match[1]!.toLowerCase();
  const bytes = percentDecodedBytes(match[2]!);
  if (charset === 'utf-8') return strictUtf8(bytes);
  if (charset === 'iso-8859-1') return bytes.toString('latin1');
  return undefined;
}

function percentDecodedBytes(text: string): Buffer {
  const parts: Buffer[] = [];
  let literal = '';
  for (let at = 0; at < text.length; at += 1) {
    const hex = text.slice(at + 1, at + 3);
    if (text[at] === '%' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      parts.push(Buffer.from(literal, 'utf8'), Buffer.from([Number.parseInt(hex, 16)]));
      literal = '';
      at += 2;
    } else {
      literal += text[at];
    }
  }
  parts.push(Buffer.from(literal, 'utf8'));
  return Buffer.concat(parts);
}

function strictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Header values arrive as Latin-1; many servers put raw UTF-8 in `filename="…"`, which then
 * shows as mojibake. If the Latin-1 bytes are valid UTF-8, that was the intent.
 */
function utf8IfPossible(latin1: string): string {
  if (!/[\u0080-\u00ff]/.test(latin1) || /[^\u0000-\u00ff]/.test(latin1)) return latin1;
  return strictUtf8(Buffer.from(latin1, 'latin1')) ?? latin1;
}

function lastPathSegment(url: string): string | undefined {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const segment = pathname.slice(pathname.lastIndexOf('/') + 1);
  if (segment === '') return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
