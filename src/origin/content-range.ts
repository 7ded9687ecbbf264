/** Content-Range of a single-part 206 or a 416 (RFC 9110 §14.4). */
export type ContentRange =
  | { kind: 'range'; start: number /** Inclusive, as on the wire. */; last: number; size: number | null }
  | { kind: 'unsatisfied'; size: number };

const RANGE_PATTERN = /^bytes[ \t]+(\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)$/i;
const UNSATISFIED_PATTERN = /^bytes[ \t]+\*\/(\d{1,16})$/i;

export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const range = RANGE_PATTERN.exec(text);
  if (range !== null) {
    const start = Number(range[1]);
    const last = Number(range[2]);
    const size = range[3] === '*' ? null : Number(range[3]);
    if (![start, last, size ?? 0].every(Number.isSafeInteger)) return undefined;
    if (last < start || (size !== null && last >= size)) return undefined;
    return { kind: 'range', start, last, size };
  }
  const unsatisfied = UNSATISFIED_PATTERN.exec(text);
  if (unsatisfied !== null) return { kind: 'unsatisfied', size: Number(unsatisfied[1]) };
  return undefined;
}
