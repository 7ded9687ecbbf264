import assert from 'node:assert/strict';
import { DdmError } from '../../src/errors.js';

/** Awaits `work` and asserts it failed with a DdmError of `code` (and a message matching `message`). */
export async function rejectsWith(work: Promise<unknown>, code: string, message?: RegExp): Promise<DdmError> {
  let caught: unknown;
  await work.catch((error: unknown) => {
    caught = error;
  });
  assert.ok(caught instanceof DdmError, `expected a DdmError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}
