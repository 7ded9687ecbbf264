/** A peer's concurrent fetch slots: taken without waiting, so a full peer answers "busy" at once. */
export class SlotPool {
  private used = 0;

  constructor(readonly total: number) {}

  get free(): number {
    return this.total - this.used;
  }

  /** A release function when a slot was free (calling it twice frees one slot once), else undefined. */
  tryTake(): (() => void) | undefined {
    if (this.used >= this.total) return undefined;
    this.used += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= 1;
    };
  }
}
