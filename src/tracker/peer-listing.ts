/**
 * The answer to GET /v1/peers, serialised once per change of the list rather than once per
 * caller: a snapshot of the live records as JSON text, from which the whole list is one cached
 * body and a random sample (`?limit=`) costs time in the sample's size, not the swarm's.
 */
import { bodyDigest, bodyDigester } from '../protocol/auth.js';

/** A body ready to send: its bytes and the digest its signature covers. */
export interface PreparedBody {
  bytes: Buffer;
  digest: string;
}

export class PeerListing {
  #whole: PreparedBody | undefined;

  /**
   * `records`: one JSON-encoded PeerRecord each, oldest registration first; `whole`, their body
   * if it is made already (see ListingBuild).
   */
  constructor(
    private readonly records: readonly string[],
    whole?: PreparedBody,
  ) {
    this.#whole = whole;
  }

  get size(): number {
    return this.records.length;
  }

  /** Every live peer, or `limit` of them picked at random (each at most once). */
  body(limit?: number): PreparedBody {
    if (limit === undefined || limit >= this.records.length) {
      this.#whole ??= prepare(this.records);
      return this.#whole;
    }
    return prepare(pick(this.records, limit));
  }
}

const LIST_HEAD = Buffer.from('{"peers":[');
const LIST_TAIL = Buffer.from(']}');

/**
 * A listing made a part at a time (`add` the records of one part, then `finish`): each part is
 * encoded and hashed as it comes, so that no single step costs time in the whole swarm's size.
 * Its body is the bytes `prepare` makes of the same records (the same head and tail).
 */
export class ListingBuild {
  readonly #records: string[] = [];
  readonly #parts: Buffer[] = [LIST_HEAD];
  readonly #hash = bodyDigester();

  constructor() {
    this.#hash.update(LIST_HEAD);
  }

  add(records: readonly string[]): void {
    if (records.length === 0) return;
    const part = Buffer.from(`${this.#records.length > 0 ? ',' : ''}${records.join(',')}`, 'utf8');
    // One push each: a spread of a whole swarm's records can exceed the engine's argument limit.
    for (const record of records) this.#records.push(record);
    this.#parts.push(part);
    this.#hash.update(part);
  }

  finish(): PeerListing {
    this.#parts.push(LIST_TAIL);
    this.#hash.update(LIST_TAIL);
    const whole = { bytes: Buffer.concat(this.#parts), digest: this.#hash.digest() };
    return new PeerListing(this.#records, whole);
  }
}

/** A body of these JSON-encoded records. */
export function prepare(records: readonly string[]): PreparedBody {
  const bytes = Buffer.concat([LIST_HEAD, Buffer.from(records.join(','), 'utf8'), LIST_TAIL]);
  return { bytes, digest: bodyDigest(bytes) };
}

/**
 * `count` distinct entries at random. A small sample draws indices until it has enough (few
 * repeats when it is at most half the list); a large one shuffles a copy partway.
 */
function pick(records: readonly string[], count: number): string[] {
  const total = records.length;
  if (count * 2 <= total) return randomIndices(total, count).map((index) => records[index]!);
  const copy = [...records];
  for (let index = 0; index < count; index += 1) {
    const swap = index + Math.floor(Math.random() * (total - index));
    [copy[index], copy[swap]] = [copy[swap]!, copy[index]!];
  }
  return copy.slice(0, count);
}

/** `count` distinct indices below `total` at random, for `count` at most half of `total`. */
export function randomIndices(total: number, count: number): number[] {
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(Math.floor(Math.random() * total));
  return [...chosen];
}
