/**
 * Property-based checks of the config file and option resolution: any JSON in the file and any
 * DDM_* variable either resolves to checked values or fails with CONFIG_INVALID, never a crash.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { COMMAND_SECTIONS, loadConfigFile, resolveOptions } from '../../src/cli/config.js';
import {
  COMMON_OPTIONS,
  configKeyFor,
  DEMO_OPTIONS,
  envNameFor,
  GET_OPTIONS,
  type OptionSpec,
  PEER_OPTIONS,
  PEERS_OPTIONS,
  TRACKER_OPTIONS,
} from '../../src/cli/option-specs.js';
import { DdmError } from '../../src/errors.js';

const RUNS = 10_000;
const SPECS: Record<(typeof COMMAND_SECTIONS)[number], readonly OptionSpec[]> = {
  get: GET_OPTIONS,
  tracker: TRACKER_OPTIONS,
  peer: PEER_OPTIONS,
  peers: PEERS_OPTIONS,
  demo: DEMO_OPTIONS,
};
const ALL_SPECS = [...COMMON_OPTIONS, ...Object.values(SPECS).flat()];
const KNOWN_KEYS = [...new Set(ALL_SPECS.map(configKeyFor))];
const ENV_NAMES = [...new Set(ALL_SPECS.map(envNameFor))];

const dir = mkdtempSync(join(tmpdir(), 'ddm-fuzz-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `work`; a CONFIG_INVALID DdmError is an answer, anything else thrown fails the property. */
function configInvalidOr<T>(work: () => T): T | 'CONFIG_INVALID' {
  try {
    return work();
  } catch (error) {
    if (error instanceof DdmError && error.code === 'CONFIG_INVALID') return 'CONFIG_INVALID';
    throw error;
  }
}

const value = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 1.5, 4, '4', ' 7 ', 'true', 'ask', 'auto', '', true, false, null, ['x'], [1]),
);
const key = fc.oneof(fc.constantFrom(...KNOWN_KEYS), fc.string({ maxLength: 12 }));
const options = fc.dictionary(key, value, { maxKeys: 6 });
const config = fc
  .tuple(
    options,
    fc.dictionary(fc.constantFrom(...COMMAND_SECTIONS), fc.oneof(options, value), { maxKeys: 3 }),
  )
  .map(([top, sections]) => ({ ...top, ...sections }));
const configText = fc.oneof(
  config.map((object) => JSON.stringify(object)),
  fc.jsonValue({ maxDepth: 3 }).map((json) => JSON.stringify(json)),
  fc.string({ unit: 'binary', maxLength: 100 }),
);
const env = fc.dictionary(
  fc.constantFrom(...ENV_NAMES),
  fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('1', '0', 'yes', 'off', '12', '-3', 'x,y', 'a\nb')),
  { maxKeys: 4 },
);

describe('config file and options under random input', () => {
  test(`${RUNS} config files and environments: resolved values or CONFIG_INVALID`, () => {
    const path = join(dir, 'config.json');
    let resolved = 0;
    fc.assert(
      fc.property(configText, env, fc.constantFrom(...COMMAND_SECTIONS), (text, variables, command) => {
        writeFileSync(path, text);
        const loaded = configInvalidOr(() => loadConfigFile(path, true));
        if (loaded === 'CONFIG_INVALID') return;
        const specs = [...COMMON_OPTIONS, ...SPECS[command]];
        const values = configInvalidOr(() =>
          resolveOptions({
            specs,
            flags: {},
            fromCommandLine: () => false,
            env: variables,
            config: loaded,
            command,
          }),
        );
        if (values === 'CONFIG_INVALID') return;
        resolved += 1;
        for (const spec of specs) checkResolved(spec, values[spec.key]);
      }),
      { numRuns: RUNS },
    );
    assert.ok(resolved > 0, 'some inputs were valid');
  });

  test('a missing default file is empty; a missing explicit one is CONFIG_INVALID', () => {
    assert.deepEqual(loadConfigFile(join(dir, 'absent.json'), false), {});
    assert.equal(
      configInvalidOr(() => loadConfigFile(join(dir, 'absent.json'), true)),
      'CONFIG_INVALID',
    );
    assert.equal(
      configInvalidOr(() => loadConfigFile(dir, true)),
      'CONFIG_INVALID',
    );
  });
});

/** A resolved value has the kind its spec promises (or is the spec's default). */
function checkResolved(spec: OptionSpec, resolved: unknown): void {
  if (resolved === undefined || resolved === spec.defaultValue) return;
  switch (spec.kind) {
    case 'string':
      assert.equal(typeof resolved, 'string');
      if (spec.choices) assert.ok(spec.choices.includes(resolved as string));
      break;
    case 'int':
      assert.ok(Number.isInteger(resolved) && (resolved as number) > 0, `${spec.key}: ${String(resolved)}`);
      break;
    case 'seconds':
      assert.ok(Number.isFinite(resolved) && (resolved as number) > 0);
      break;
    case 'bool':
      assert.equal(typeof resolved, 'boolean');
      break;
    case 'list':
      assert.ok(Array.isArray(resolved) && resolved.every((item) => typeof item === 'string'));
      break;
  }
}
