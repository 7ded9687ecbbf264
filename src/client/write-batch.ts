/** Contiguous chunks gathered into one vectored positional write, so the disk sees few large writes. */
export class WriteBatch {
  private chunks: Uint8Array[] = [];
  private start = 0;
  private startedAt = 0;
  length = 0;

  /** How long the oldest byte has waited, in milliseconds (0 when empty). */
  ageMs(now = Date.now()): number {
    return this.length === 0 ? 0 : now - this.startedAt;
  }

  add(chunk: Uint8Array, position: number, now = Date.now()): void {
    if (this.length === 0) {
      this.start = position;
      this.startedAt = now;
    }
    if (position !== this.start + this.length) throw new Error('WriteBatch: chunks must be contiguous');
    this.chunks.push(chunk);
    this.length += chunk.byteLength;
  }

  /** The gathered chunks, in order, for one vectored write; the batch is empty afterwards. */
  take(): { chunks: Uint8Array[]; position: number; length: number } {
    const taken = { chunks: this.chunks, position: this.start, length: this.length };
    this.chunks = [];
    this.length = 0;
    return taken;
  }
}
