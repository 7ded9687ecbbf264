/** meteredBody (client/metered-body.ts): a helper's bytes counted without hiding a lease. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { meteredBody } from '../../src/client/metered-body.js';
import { isLeased, type LeasedBytes } from '../../src/origin/leased-bytes.js';

/** A leased body of `chunks` that records its releases and whether it was ended early. */
function leasedBody(chunks: Uint8Array[]): LeasedBytes & { released: number; returned: boolean } {
  let index = 0;
  const body = {
    leased: true as const,
    released: 0,
    returned: false,
    release(bytes: number) {
      body.released += bytes;
    },
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Uint8Array>> =>
        index < chunks.length ? { done: false, value: chunks[index++]! } : { done: true, value: undefined },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        body.returned = true;
        return { done: true, value: undefined };
      },
    }),
  };
  return body;
}

function meter() {
  const seen = { starts: 0, ends: 0, bytes: 0 };
  return {
    seen,
    meter: { start: () => seen.starts++, chunk: (n: number) => (seen.bytes += n), end: () => seen.ends++ },
  };
}

describe('meteredBody', () => {
  it('stays leased, hands releases on, and counts each chunk between one start and one end', async () => {
    const inner = leasedBody([new Uint8Array(3), new Uint8Array(5)]);
    const { seen, meter: hooks } = meter();
    const body = meteredBody(inner, hooks);
    assert.ok(isLeased(body));
    for await (const chunk of body) (body as LeasedBytes).release(chunk.byteLength);
    assert.equal(inner.released, 8);
    assert.deepEqual(seen, { starts: 1, ends: 1, bytes: 8 });
  });

  it('a plain body stays plain', async () => {
    async function* plain() {
      yield new Uint8Array(2);
    }
    const body = meteredBody(plain(), meter().meter);
    assert.equal(isLeased(body), false);
  });

  it('a meter that throws ends the inner body and the stream, once', async () => {
    const inner = leasedBody([new Uint8Array(3), new Uint8Array(5)]);
    const seen = { ends: 0 };
    const body = meteredBody(inner, {
      start: () => {},
      chunk: () => {
        throw new Error('retired');
      },
      end: () => seen.ends++,
    });
    await assert.rejects(async () => {
      for await (const _ of body);
    }, /retired/);
    assert.equal(inner.returned, true);
    assert.equal(seen.ends, 1);
  });

  it('dropped before its first chunk: the inner body is ended, the meter never started', async () => {
    const inner = leasedBody([new Uint8Array(3)]);
    const { seen, meter: hooks } = meter();
    const body = meteredBody(inner, hooks);
    await body[Symbol.asyncIterator]().return?.();
    assert.equal(inner.returned, true);
    assert.deepEqual(seen, { starts: 0, ends: 0, bytes: 0 });
  });
});
