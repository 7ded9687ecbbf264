/**
 * Resolves option values: flag > DDM_* environment variable > config file > default,
 * and checks each one, naming the bad key and where it came from.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DdmError } from '../errors.js';
import { configKeyFor, envNameFor, knownConfigKeys, type OptionSpec } from './option-specs.js';

export const COMMAND_SECTIONS = ['get', 'tracker', 'peer', 'peers', 'demo'] as const;

/**
 * `tracker` and `peer` are both command names and options (`--tracker URL`, `--peer URL`), so the
 * value's type decides: an object is the command's section, a string or list is the option. No
 * option takes an object, so a file never means both.
 */
function isSection(key: string, value: unknown): value is ConfigFile {
  return (
    (COMMAND_SECTIONS as readonly string[]).includes(key) &&
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value)
  );
}

export type ConfigFile = Record<string, unknown>;

export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'ddm', 'config.json');
}

/** Reads the config file; a missing default file is fine, a missing explicit one is an error. */
export function loadConfigFile(path: string, explicit: boolean): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    throw new DdmError('CONFIG_INVALID', `cannot read config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DdmError(
      'CONFIG_INVALID',
      `config file ${path} is not valid JSON: ${(error as Error).message}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DdmError('CONFIG_INVALID', `config file ${path} must hold a JSON object`);
  }
  checkKeys(parsed as ConfigFile, path);
  return parsed as ConfigFile;
}

function checkKeys(config: ConfigFile, path: string): void {
  const known = knownConfigKeys();
  for (const [key, value] of Object.entries(config)) {
    if (isSection(key, value)) {
      for (const inner of Object.keys(value)) {
        if (!known.has(inner)) throw unknownKey(path, `${key}.${inner}`);
      }
    } else if ((COMMAND_SECTIONS as readonly string[]).includes(key) && !known.has(key)) {
      throw new DdmError('CONFIG_INVALID', `config file ${path}: "${key}" must be an object of options`, {
        details: { key },
      });
    } else if (!known.has(key)) {
      throw unknownKey(path, key);
    }
  }
}

function unknownKey(path: string, key: string): DdmError {
  return new DdmError('CONFIG_INVALID', `config file ${path}: unknown key "${key}"`, { details: { key } });
}

export type ValueSource = 'flag' | 'env' | 'config' | 'default';

export interface ResolveInput {
  specs: readonly OptionSpec[];
  /** Values commander parsed, and which of them came from the command line. */
  flags: Record<string, unknown>;
  fromCommandLine: (key: string) => boolean;
  env: NodeJS.ProcessEnv;
  config: ConfigFile;
  command: string;
}

export function resolveOptions(input: ResolveInput): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const own = input.config[input.command];
  const section = isSection(input.command, own) ? own : {};
  for (const spec of input.specs) {
    values[spec.key] = resolveOne(spec, input, section);
  }
  return values;
}

function resolveOne(spec: OptionSpec, input: ResolveInput, section: ConfigFile): unknown {
  if (input.fromCommandLine(spec.key)) return checkValue(spec, input.flags[spec.key], 'flag', flagName(spec));
  const envName = envNameFor(spec);
  const envValue = input.env[envName];
  if (envValue !== undefined && envValue !== '') {
    return checkValue(spec, fromEnvString(spec, envValue, envName), 'env', envName);
  }
  const configKey = configKeyFor(spec);
  const top = input.config[configKey];
  const fromConfig = configKey in section ? section[configKey] : isSection(configKey, top) ? undefined : top;
  if (fromConfig !== undefined) {
    const value = spec.negated && typeof fromConfig === 'boolean' ? !fromConfig : fromConfig;
    return checkValue(spec, value, 'config', `config key "${configKey}"`);
  }
  return spec.defaultValue;
}

function flagName(spec: OptionSpec): string {
  return spec.flags.split(/[ ,]+/).find((part) => part.startsWith('--')) ?? spec.key;
}

function fromEnvString(spec: OptionSpec, raw: string, envName: string): unknown {
  switch (spec.kind) {
    case 'bool': {
      const truthy = /^(1|true|yes|on)$/i.test(raw);
      if (!truthy && !/^(0|false|no|off)$/i.test(raw)) {
        throw new DdmError('CONFIG_INVALID', `${envName} must be true or false, not "${raw}"`, {
          details: { key: envName },
        });
      }
      return spec.negated ? !truthy : truthy;
    }
    case 'list':
      // Headers may contain commas, so they are separated by newlines; URLs by commas or spaces.
      return spec.key === 'header' ? raw.split('\n').filter(Boolean) : raw.split(/[\s,]+/).filter(Boolean);
    default:
      return raw;
  }
}

/**
 * A bad value typed on the command line is USAGE; one read from a DDM_* variable or the config
 * file is CONFIG_INVALID, so the code says where to look. Both exit 2.
 */
function invalid(source: ValueSource, where: string, message: string): DdmError {
  return new DdmError(source === 'flag' ? 'USAGE' : 'CONFIG_INVALID', `${where}: ${message}`, {
    details: { key: where },
  });
}

function checkValue(spec: OptionSpec, value: unknown, source: ValueSource, where: string): unknown {
  switch (spec.kind) {
    case 'string': {
      if (typeof value !== 'string') throw invalid(source, where, 'must be a string');
      if (spec.choices && !spec.choices.includes(value)) {
        throw invalid(source, where, `must be one of ${spec.choices.join(', ')}, not "${value}"`);
      }
      return value;
    }
    case 'int':
    case 'seconds':
      return toNumber(spec, value, source, where);
    case 'bool':
      if (typeof value !== 'boolean') throw invalid(source, where, 'must be true or false');
      return value;
    case 'list': {
      const list = Array.isArray(value) ? value : [value];
      if (!list.every((item) => typeof item === 'string'))
        throw invalid(source, where, 'must be a list of strings');
      return list;
    }
  }
}

function toNumber(spec: OptionSpec, value: unknown, source: ValueSource, where: string): number {
  const integer = spec.kind === 'int';
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : NaN;
  const within = spec.max === undefined || number <= spec.max;
  if (!Number.isFinite(number) || number <= 0 || (integer && !Number.isInteger(number)) || !within) {
    const kind = `a positive ${integer ? 'integer' : 'number'}${spec.max === undefined ? '' : ` up to ${spec.max}`}`;
    throw invalid(source, where, `must be ${kind}, not ${shown(value)}`);
  }
  return number;
}

/** A value as it can be shown in an error, whatever it is (deep, cyclic or with odd toString). */
function shown(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 100);
  } catch {
    return typeof value;
  }
}
