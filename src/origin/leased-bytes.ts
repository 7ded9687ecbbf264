/**
 * A range's bytes whose memory the reader reuses: each chunk is a view of a buffer that the
 * socket reads into again once the consumer says the chunk is written (`release`). A consumer
 * that keeps chunks, or never releases, must ask for plain bytes instead (`lease: false`).
 */
export interface LeasedBytes extends AsyncIterable<Uint8Array> {
  readonly leased: true;
  /** The first `bytes` of the chunks yielded and not yet released are written: reuse their memory. */
  release(bytes: number): void;
}

export function isLeased(body: AsyncIterable<Uint8Array>): body is LeasedBytes {
  return (body as Partial<LeasedBytes>).leased === true;
}
