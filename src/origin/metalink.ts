/**
 * Metalink 4 (RFC 5854, `.meta4`): a file's size, hashes and mirror URLs in one XML document.
 * Each <file> becomes one download: its http(s) <url>s in priority order (the first is the
 * primary URL, the rest its mirrors), its strongest hash ddm can check as `checksum`, its size
 * as what the origin must serve. What ddm cannot use (ftp URLs, torrents, unknown hashes, piece
 * hashes) is left out with a notice; a document that names no usable file is METALINK_INVALID.
 */
import { basename } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { MAX_METALINK_BYTES, MAX_MIRRORS } from '../constants.js';
import { DdmError } from '../errors.js';
import { redactUrl } from './origin-url.js';

export interface MetalinkFile {
  /** A plain file name (a path in the document keeps its last part). */
  name: string;
  size?: number;
  /** http(s) URLs, most preferred first. */
  urls: string[];
  /** `algo=hex` for --checksum. */
  checksum?: string;
}

export interface Metalink {
  files: MetalinkFile[];
  /** What was left out, and why: for the user to read. */
  notices: string[];
}

/** Metalink hash names (IANA) that ddm's checksum code checks, strongest first. */
const HASHES: readonly (readonly [string, string, number])[] = [
  ['sha-512', 'sha512', 128],
  ['sha-256', 'sha256', 64],
  ['sha-1', 'sha1', 40],
  ['md5', 'md5', 32],
];

/** RFC 5854 §4.2.16: priority 1 is most preferred; a URL without one comes after them all. */
const NO_PRIORITY = Number.MAX_SAFE_INTEGER;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => ['file', 'url', 'hash', 'metaurl'].includes(name),
});

export function invalid(source: string, why: string): DdmError {
  return new DdmError('METALINK_INVALID', `${source} is not a usable Metalink: ${why}`, {
    details: { source },
  });
}

/** Reads a Metalink 4 document; `source` names it in messages (a path, or `the Metalink`). */
export function parseMetalink(text: string, source: string): Metalink {
  if (Buffer.byteLength(text) > MAX_METALINK_BYTES) {
    throw invalid(source, `it is larger than ${MAX_METALINK_BYTES} bytes`);
  }
  // A Metalink needs no DTD; refusing one keeps entity expansion (billion laughs) out.
  if (/<!DOCTYPE/i.test(text)) throw invalid(source, 'a <!DOCTYPE> is not allowed');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw invalid(source, `malformed XML (${valid.err.msg}, line ${valid.err.line})`);
  const document = parser.parse(text) as Record<string, unknown>;
  const root = document.metalink === '' ? {} : document.metalink;
  if (!isObject(root)) throw invalid(source, 'no <metalink> element (Metalink 4, RFC 5854)');
  const entries = (root.file as unknown[] | undefined) ?? [];
  if (entries.length === 0) throw invalid(source, 'no <file> element');
  const notices: string[] = [];
  const files = entries.map((entry, index) => readFile(entry, `${source}, file ${index + 1}`, notices));
  return { files, notices };
}

function readFile(entry: unknown, where: string, notices: string[]): MetalinkFile {
  if (!isObject(entry)) throw invalid(where, 'an empty <file> element');
  const name = fileName(entry['@name'], where);
  const file: MetalinkFile = { name, urls: urlsOf(entry, `${where} (${name})`, notices) };
  const size = sizeOf(entry.size, where);
  if (size !== undefined) file.size = size;
  const checksum = checksumOf(entry.hash, `${where} (${name})`, notices);
  if (checksum !== undefined) file.checksum = checksum;
  if (entry.metaurl !== undefined)
    notices.push(`${where} (${name}): <metaurl> (torrents, other Metalinks) is not used`);
  return file;
}

function fileName(raw: unknown, where: string): string {
  const text = typeof raw === 'string' ? raw.trim() : '';
  // The RFC allows sub-directories in a name; ddm writes the last part, never outside its folder.
  const name = basename(text.replaceAll('\\', '/'));
  if (name === '' || name === '.' || name === '..') throw invalid(where, `no usable name="${text}"`);
  return name;
}

function sizeOf(raw: unknown, where: string): number | undefined {
  if (raw === undefined) return undefined;
  const text = textOf(raw);
  const size = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(size)) throw invalid(where, `bad <size> "${text}"`);
  return size;
}

function urlsOf(entry: Record<string, unknown>, where: string, notices: string[]): string[] {
  const listed = ((entry.url as unknown[] | undefined) ?? []).map((url, order) => ({
    text: textOf(url),
    priority: priorityOf(isObject(url) ? url['@priority'] : undefined),
    order,
  }));
  listed.sort((a, b) => a.priority - b.priority || a.order - b.order);
  const urls: string[] = [];
  for (const { text } of listed) {
    if (!/^https?:\/\//i.test(text)) {
      notices.push(`${where}: ${redactUrl(text)} left out: ddm fetches http and https URLs only`);
    } else if (urls.length > MAX_MIRRORS) {
      notices.push(`${where}: ${redactUrl(text)} left out: more than ${MAX_MIRRORS} mirrors`);
    } else if (!urls.includes(text)) {
      urls.push(text);
    }
  }
  if (urls.length === 0) throw invalid(where, 'no http or https <url>');
  return urls;
}

function priorityOf(raw: unknown): number {
  const priority = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  return Number.isSafeInteger(priority) ? priority : NO_PRIORITY;
}

/** The strongest hash the checksum code checks, as `algo=hex`; the others left out with a notice. */
function checksumOf(raw: unknown, where: string, notices: string[]): string | undefined {
  const hashes = ((raw as unknown[] | undefined) ?? []).map((hash) => ({
    type: (isObject(hash) && typeof hash['@type'] === 'string' ? hash['@type'] : '').toLowerCase(),
    hex: textOf(hash).toLowerCase(),
  }));
  for (const { type } of hashes) {
    if (!HASHES.some(([name]) => name === type))
      notices.push(`${where}: <hash type="${type}"> is not checked`);
  }
  for (const [name, algorithm, length] of HASHES) {
    const hash = hashes.find((h) => h.type === name);
    if (hash === undefined) continue;
    if (!new RegExp(`^[0-9a-f]{${length}}$`).test(hash.hex))
      throw invalid(where, `bad <hash type="${name}">`);
    return `${algorithm}=${hash.hex}`;
  }
  return undefined;
}

function textOf(node: unknown): string {
  if (typeof node === 'string') return node.trim();
  if (isObject(node) && typeof node['#text'] === 'string') return node['#text'].trim();
  return '';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A file of a Metalink as download request keys: its first URL, the others as mirrors, its
 * size, its hash as `checksum` unless `keepChecksum` (the user gave one), its name as `output`
 * unless `keepOutput` (the user named the output).
 */
export function requestOfMetalinkFile(
  file: MetalinkFile,
  keep: { checksum?: boolean; output?: boolean } = {},
): Record<string, unknown> {
  return {
    url: file.urls[0],
    mirrors: file.urls.slice(1),
    ...(file.size === undefined ? {} : { size: file.size }),
    ...(file.checksum === undefined || keep.checksum ? {} : { checksum: file.checksum }),
    ...(keep.output ? {} : { output: file.name }),
  };
}
