/**
 * The engine names options by key (`insecure`, `local=false`) in its notices and errors; the
 * command line shows the flag the user typed instead.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { flagsInText, withFlagNames } from '../../src/cli/request-flags.js';
import { DdmError } from '../../src/errors.js';

describe('option keys to flags', () => {
  test('quoted keys become flags, negated ones by their false value', () => {
    assert.equal(flagsInText('`insecure`: not checked'), '--insecure: not checked');
    assert.equal(
      flagsInText('run again with `overwrite` to replace it'),
      'run again with --overwrite to replace it',
    );
    assert.equal(flagsInText('and `local=false` was given'), 'and --no-local was given');
  });

  test('anything else in backquotes stays as it is', () => {
    assert.equal(flagsInText('`ddm secret` makes one'), '`ddm secret` makes one');
    assert.equal(flagsInText('`local=true` is the default'), '`local=true` is the default');
    assert.equal(flagsInText('`colour` is not an option'), '`colour` is not an option');
  });

  test('an error quoting a key is reworded with the flag, code kept', () => {
    const error = withFlagNames(new DdmError('NO_WORKERS', 'nobody can fetch: `local=false` was given'));
    assert.ok(error instanceof DdmError);
    assert.equal(error.code, 'NO_WORKERS');
    assert.equal(error.message, 'nobody can fetch: --no-local was given');
  });
});
