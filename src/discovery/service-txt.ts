/**
 * The TXT record of a ddm peer's DNS-SD announcement (RFC 6763 section 6): who the peer says it
 * is. Nothing in it is trusted: a client authenticates the peer before using it.
 */
import { safeParse } from 'valibot';
import { RegisterRequest } from '../protocol/messages.js';

export interface ServiceTxt {
  id: string;
  name: string;
  slots: number;
  /** The swarm protocol version the peer speaks (PROTOCOL_VERSION). */
  protocol: number;
  /** The peer serves https (`tls=1`); absent for a plain http peer. */
  tls?: boolean;
}

export type ParsedTxt = { ok: true; txt: ServiceTxt } | { ok: false; reason: string };

/** Version of this TXT layout; a future layout bumps it. */
const TXT_VERSION = '1';
/** RFC 6763 section 6.1: one key=value string is at most 255 bytes. */
const MAX_TXT_STRING_BYTES = 255;

export function encodeServiceTxt(txt: ServiceTxt): Buffer[] {
  return [
    `txtvers=${TXT_VERSION}`,
    `id=${txt.id}`,
    fitString('name=', txt.name),
    `slots=${txt.slots}`,
    `proto=${txt.protocol}`,
    // Only when true, so that a plain peer's announcement reads as it did before TLS existed.
    ...(txt.tls === true ? ['tls=1'] : []),
  ].map((entry) => Buffer.from(entry, 'utf8'));
}

/** Cuts the value at a character boundary so that the whole string fits in one TXT string. */
function fitString(prefix: string, value: string): string {
  let fitted = value;
  while (Buffer.byteLength(prefix + fitted, 'utf8') > MAX_TXT_STRING_BYTES) {
    fitted = Array.from(fitted).slice(0, -1).join('');
  }
  return prefix + fitted;
}

export function parseServiceTxt(strings: readonly (Buffer | string)[]): ParsedTxt {
  const entries = txtEntries(strings);
  if (entries.get('txtvers') !== TXT_VERSION) {
    return { ok: false, reason: `unknown TXT layout ${entries.get('txtvers') ?? '(none)'}` };
  }
  const id = safeParse(RegisterRequest.entries.id, entries.get('id'));
  if (!id.success) return { ok: false, reason: 'no valid id' };
  const name = safeParse(RegisterRequest.entries.name, entries.get('name'));
  if (!name.success) return { ok: false, reason: 'no valid name' };
  const slots = safeParse(RegisterRequest.entries.slots, decimal(entries.get('slots')));
  if (!slots.success) return { ok: false, reason: 'no valid slots' };
  const protocol = decimal(entries.get('proto'));
  if (!Number.isSafeInteger(protocol) || protocol < 1) return { ok: false, reason: 'no valid proto' };
  const tls = entries.get('tls');
  if (tls !== undefined && tls !== '0' && tls !== '1') return { ok: false, reason: 'no valid tls' };
  const txt: ServiceTxt = { id: id.output, name: name.output, slots: slots.output, protocol };
  if (tls === '1') txt.tls = true;
  return { ok: true, txt };
}

/**
 * Keys are case-insensitive and the first occurrence of a key wins (RFC 6763 section 6.4);
 * a string without "=" is a boolean attribute, which ddm does not use.
 */
function txtEntries(strings: readonly (Buffer | string)[]): Map<string, string> {
  const entries = new Map<string, string>();
  for (const raw of strings) {
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    const equals = text.indexOf('=');
    if (equals <= 0) continue;
    const key = text.slice(0, equals).toLowerCase();
    if (!entries.has(key)) entries.set(key, text.slice(equals + 1));
  }
  return entries;
}

function decimal(text: string | undefined): number {
  return text !== undefined && /^\d{1,9}$/.test(text) ? Number(text) : NaN;
}
