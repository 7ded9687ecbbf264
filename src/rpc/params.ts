/** A call's parameters (the token already stripped), read with aria2's words for what is wrong. */
import { methodError } from './rpc-error.js';

export class Params {
  constructor(readonly list: readonly unknown[]) {}

  has(index: number): boolean {
    return this.list.length > index && this.list[index] !== undefined && this.list[index] !== null;
  }

  string(index: number): string {
    const value = this.#required(index);
    if (typeof value !== 'string') throw wrongType(index);
    return value;
  }

  int(index: number): number {
    const value = this.#required(index);
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw wrongType(index);
    return value;
  }

  array(index: number): unknown[] {
    const value = this.#required(index);
    if (!Array.isArray(value)) throw wrongType(index);
    return value;
  }

  struct(index: number): Record<string, unknown> {
    const value = this.#required(index);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw wrongType(index);
    return value as Record<string, unknown>;
  }

  optionalStruct(index: number): Record<string, unknown> | undefined {
    return this.has(index) ? this.struct(index) : undefined;
  }

  optionalInt(index: number): number | undefined {
    return this.has(index) ? this.int(index) : undefined;
  }

  /** `keys` of aria2's tell* methods: strings. */
  optionalKeys(index: number): string[] | undefined {
    if (!this.has(index)) return undefined;
    const keys = this.array(index);
    if (!keys.every((key) => typeof key === 'string')) throw wrongType(index);
    return keys as string[];
  }

  #required(index: number): unknown {
    if (!this.has(index)) throw methodError(`The parameter at ${index} is required but missing.`);
    return this.list[index];
  }
}

function wrongType(index: number) {
  return methodError(`The parameter at ${index} has wrong type.`);
}
