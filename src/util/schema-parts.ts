/** Pieces of valibot schemas that several of ddm's schemas are built from. */
import * as v from 'valibot';

/** A safe integer, at least `min` and at most `max` when they are given. */
export function wholeNumber(min?: number, max?: number): v.GenericSchema<number> {
  if (min === undefined) return v.pipe(v.number(), v.safeInteger());
  if (max === undefined) return v.pipe(v.number(), v.safeInteger(), v.minValue(min));
  return v.pipe(v.number(), v.safeInteger(), v.minValue(min), v.maxValue(max));
}

export const nonEmptyString = v.pipe(v.string(), v.minLength(1));
