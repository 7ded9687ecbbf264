/** A half-open byte range [start, end). Shared by every layer, so it depends on none. */
export interface ByteRange {
  start: number;
  end: number;
}
