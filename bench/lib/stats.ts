/** Order statistics over a handful of runs; medians resist the odd slow run better than means. */

function sorted(values: readonly number[]): number[] {
  if (values.length === 0) throw new RangeError('no values');
  return [...values].sort((a, b) => a - b);
}

export function median(values: readonly number[]): number {
  const ordered = sorted(values);
  const middle = Math.floor(ordered.length / 2);
  return ordered.length % 2 === 1 ? ordered[middle]! : (ordered[middle - 1]! + ordered[middle]!) / 2;
}

export function minimum(values: readonly number[]): number {
  return sorted(values)[0]!;
}

export function maximum(values: readonly number[]): number {
  return sorted(values).at(-1)!;
}
