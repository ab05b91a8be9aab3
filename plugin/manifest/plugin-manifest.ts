/**
 * The plugin manifest (plugin.json) and its config: types, validation, and merging of overrides.
 * Every problem is reported with the path of the field and what was expected, all at once.
 */
import { parseVersion, parseVersionRange } from './semver-range';

export const FRAME_PHASES = ['early-update', 'update', 'late-update'] as const;
/** Where in a rendered frame a system runs (see plugin/host/frame-phases.ts). */
export type FramePhase = (typeof FRAME_PHASES)[number];

export const COMPONENT_SCOPES = ['scene', 'node'] as const;
export type ComponentScope = (typeof COMPONENT_SCOPES)[number];

export interface ChannelConfig {
  /** 0..127. */
  id: number;
  reliable: boolean;
}

/** Runtime settings of the plugin; plugin.json holds the defaults, installSwitchboard() takes overrides. */
export interface PluginConfig {
  /** 'ws://host:port', 'wss://…' or (Node only) 'udp://host:port'; or a list of 1..8 relays of one fleet, tried in order. */
  relay: string | string[];
  /** Relay access token; null when the relay has no secret. */
  token: string | null;
  /** Channels connectPeer() opens on every peer. */
  channels: ChannelConfig[];
  /** NetworkedTransform snapshots per second an owner sends. */
  sendRateHz: number;
  /** Largest UDP payload of a datagram, in bytes. */
  mtuBytes: number;
  /** Unreliable channel NetworkedTransform snapshots travel on. */
  transformChannel: number;
  /** How far behind the newest snapshot replicas show their node. */
  interpolationDelayMs: number;
  /** Silence after which a replica jumps to the next snapshot instead of gliding there. */
  snapAfterGapMs: number;
}

export interface ComponentEntry {
  name: string;
  scope: ComponentScope;
  description?: string;
}

export interface SystemEntry {
  name: string;
  phase: FramePhase;
  /** Lower runs first within a phase. */
  order: number;
  description?: string;
}

export interface PluginManifest {
  name: string;
  version: string;
  description: string;
  main: string;
  /** Semver range of @babylonjs/core the plugin works with. */
  engine: string;
  components: ComponentEntry[];
  systems: SystemEntry[];
  config: PluginConfig;
}

/** A manifest or config that cannot be used; `issues` lists each bad field as `path: expected …, got …`. */
export class PluginConfigError extends Error {
  constructor(readonly source: string, readonly issues: readonly string[]) {
    super(`${source} is invalid:\n  - ${issues.join('\n  - ')}`);
    this.name = 'PluginConfigError';
  }
}

const NAME_PATTERN = /^[a-zA-Z][\w.-]{0,63}$/;
const RELAY_PATTERN = /^(udp|ws|wss):\/\/[^/\s]+/;
const MAX_CHANNEL_ID = 127;
const MAX_TOKEN_LENGTH = 1024;
const MAX_ENTRIES = 64;
/** As NetworkManagerOptions.relay (MAX_RELAY_URLS). */
const MAX_RELAYS = 8;

type FieldCheck = (value: unknown, path: string, issues: string[]) => void;

const configChecks: Record<keyof PluginConfig, FieldCheck> = {
  relay: (v, path, issues) => {
    const expected = `expected 'ws://host:port', 'wss://…' or 'udp://host:port'`;
    if (!Array.isArray(v)) {
      if (typeof v !== 'string' || !RELAY_PATTERN.test(v)) issues.push(`${path}: ${expected} (or a list of 1..${MAX_RELAYS} of them), got ${describe(v)}`);
      return;
    }
    if (v.length === 0 || v.length > MAX_RELAYS) return void issues.push(`${path}: expected a list of 1..${MAX_RELAYS} relay URLs, got ${v.length}`);
    v.forEach((entry: unknown, i) => {
      if (typeof entry !== 'string' || !RELAY_PATTERN.test(entry)) issues.push(`${path}[${i}]: ${expected}, got ${describe(entry)}`);
      else if (v.indexOf(entry) < i) issues.push(`${path}[${i}]: expected a relay not listed before, got ${describe(entry)} again`);
    });
  },
  token: (v, path, issues) => {
    if (v !== null && (typeof v !== 'string' || v.length > MAX_TOKEN_LENGTH)) issues.push(`${path}: expected null or a string of at most ${MAX_TOKEN_LENGTH} characters, got ${describe(v)}`);
  },
  channels: (v, path, issues) => {
    if (!Array.isArray(v) || v.length === 0 || v.length > MAX_CHANNEL_ID + 1) {
      issues.push(`${path}: expected an array of 1..${MAX_CHANNEL_ID + 1} { id, reliable } entries, got ${describe(v)}`);
      return;
    }
    const seen = new Set<number>();
    v.forEach((entry: unknown, i) => {
      const at = `${path}[${i}]`;
      if (!isRecord(entry)) return void issues.push(`${at}: expected an object { id, reliable }, got ${describe(entry)}`);
      checkKnownKeys(entry, ['id', 'reliable'], at, issues);
      if (!isIntegerIn(entry.id, 0, MAX_CHANNEL_ID)) issues.push(`${at}.id: expected an integer 0..${MAX_CHANNEL_ID}, got ${describe(entry.id)}`);
      else if (seen.has(entry.id)) issues.push(`${at}.id: expected a channel id not listed before, got ${entry.id} again`);
      else seen.add(entry.id);
      if (typeof entry.reliable !== 'boolean') issues.push(`${at}.reliable: expected true or false, got ${describe(entry.reliable)}`);
    });
  },
  sendRateHz: integerCheck(1, 120),
  mtuBytes: integerCheck(256, 1472),
  transformChannel: integerCheck(0, MAX_CHANNEL_ID),
  interpolationDelayMs: integerCheck(0, 2000),
  snapAfterGapMs: integerCheck(100, 60_000),
};

const CONFIG_KEYS = Object.keys(configChecks) as (keyof PluginConfig)[];

/**
 * Validates a parsed plugin.json (`import manifest from '../../plugin.json'` works in Node and in
 * bundlers). Returns a deep copy; throws PluginConfigError naming every bad field.
 */
export function loadPluginManifest(json: unknown, source = 'plugin.json'): PluginManifest {
  const issues: string[] = [];
  if (!isRecord(json)) throw new PluginConfigError(source, [`(root): expected an object, got ${describe(json)}`]);
  checkKnownKeys(json, ['name', 'version', 'description', 'main', 'engine', 'components', 'systems', 'config'], '', issues);
  if (typeof json.name !== 'string' || !NAME_PATTERN.test(json.name)) issues.push(`name: expected a name of letters, digits, '.', '_' or '-' starting with a letter, got ${describe(json.name)}`);
  if (typeof json.version !== 'string' || parseVersion(json.version) === null) issues.push(`version: expected a version MAJOR.MINOR.PATCH, got ${describe(json.version)}`);
  if (typeof json.description !== 'string') issues.push(`description: expected a string, got ${describe(json.description)}`);
  if (typeof json.main !== 'string' || json.main === '') issues.push(`main: expected the entry module's path, got ${describe(json.main)}`);
  if (typeof json.engine !== 'string' || parseVersionRange(json.engine) === null) issues.push(`engine: expected a semver range of @babylonjs/core such as '>=9 <10', got ${describe(json.engine)}`);
  checkEntries(json.components, 'components', issues, (entry, at) => {
    checkKnownKeys(entry, ['name', 'scope', 'description'], at, issues);
    checkEntryName(entry.name, at, issues);
    if (!isOneOf(entry.scope, COMPONENT_SCOPES)) issues.push(`${at}.scope: expected one of ${quoteAll(COMPONENT_SCOPES)}, got ${describe(entry.scope)}`);
    checkOptionalDescription(entry.description, at, issues);
  });
  checkEntries(json.systems, 'systems', issues, (entry, at) => {
    checkKnownKeys(entry, ['name', 'phase', 'order', 'description'], at, issues);
    checkEntryName(entry.name, at, issues);
    if (!isOneOf(entry.phase, FRAME_PHASES)) issues.push(`${at}.phase: expected one of ${quoteAll(FRAME_PHASES)}, got ${describe(entry.phase)}`);
    if (!isIntegerIn(entry.order, -1_000_000, 1_000_000)) issues.push(`${at}.order: expected an integer -1000000..1000000, got ${describe(entry.order)}`);
    checkOptionalDescription(entry.description, at, issues);
  });
  if (!isRecord(json.config)) issues.push(`config: expected an object of defaults, got ${describe(json.config)}`);
  else checkConfig(json.config, 'config', true, issues);
  if (issues.length > 0) throw new PluginConfigError(source, issues);
  return structuredClone(json) as unknown as PluginManifest;
}

/**
 * The manifest's config defaults with `overrides` (a partial config) laid over them. Overrides are
 * validated like the defaults; cross-field rules are checked on the result. Throws PluginConfigError.
 */
export function resolvePluginConfig(manifest: PluginManifest, overrides?: unknown): PluginConfig {
  const issues: string[] = [];
  if (overrides !== undefined && !isRecord(overrides)) throw new PluginConfigError('config overrides', [`(root): expected an object, got ${describe(overrides)}`]);
  if (overrides) checkConfig(overrides, 'config', false, issues);
  if (issues.length > 0) throw new PluginConfigError('config overrides', issues);
  const merged = structuredClone({ ...manifest.config, ...(overrides ?? {}) }) as PluginConfig;
  checkCrossFields(merged, 'config', issues);
  if (issues.length > 0) throw new PluginConfigError('config', issues);
  return merged;
}

function checkConfig(config: Record<string, unknown>, path: string, complete: boolean, issues: string[]): void {
  const issuesBefore = issues.length;
  checkKnownKeys(config, CONFIG_KEYS, path, issues);
  for (const key of CONFIG_KEYS) {
    if (!(key in config)) {
      if (complete) issues.push(`${path}.${key}: expected a default value, got nothing`);
      continue;
    }
    configChecks[key](config[key], `${path}.${key}`, issues);
  }
  if (complete && issues.length === issuesBefore) checkCrossFields(config as unknown as PluginConfig, path, issues);
}

function checkCrossFields(config: PluginConfig, path: string, issues: string[]): void {
  const channel = config.channels.find((c) => c.id === config.transformChannel);
  if (!channel || channel.reliable) {
    const got = channel ? `${config.transformChannel} (a reliable channel)` : `${config.transformChannel} (not in ${path}.channels)`;
    issues.push(`${path}.transformChannel: expected the id of an unreliable channel in ${path}.channels, got ${got}`);
  }
}

function checkEntries(value: unknown, path: string, issues: string[], checkEntry: (entry: Record<string, unknown>, at: string) => void): void {
  if (!Array.isArray(value) || value.length > MAX_ENTRIES) {
    issues.push(`${path}: expected an array of at most ${MAX_ENTRIES} entries, got ${describe(value)}`);
    return;
  }
  const names = new Set<unknown>();
  value.forEach((entry: unknown, i) => {
    const at = `${path}[${i}]`;
    if (!isRecord(entry)) return void issues.push(`${at}: expected an object, got ${describe(entry)}`);
    if (names.has(entry.name)) issues.push(`${at}.name: expected a name not listed before, got ${describe(entry.name)} again`);
    names.add(entry.name);
    checkEntry(entry, at);
  });
}

function checkEntryName(value: unknown, at: string, issues: string[]): void {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) issues.push(`${at}.name: expected a name of letters, digits, '.', '_' or '-' starting with a letter, got ${describe(value)}`);
}

function checkOptionalDescription(value: unknown, at: string, issues: string[]): void {
  if (value !== undefined && typeof value !== 'string') issues.push(`${at}.description: expected a string, got ${describe(value)}`);
}

function checkKnownKeys(record: Record<string, unknown>, known: readonly string[], path: string, issues: string[]): void {
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) issues.push(`${path === '' ? key : `${path}.${key}`}: unknown field (expected one of ${quoteAll(known)})`);
  }
}

function integerCheck(min: number, max: number): FieldCheck {
  return (v, path, issues) => {
    if (!isIntegerIn(v, min, max)) issues.push(`${path}: expected an integer ${min}..${max}, got ${describe(v)}`);
  };
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function isOneOf<T extends string>(value: unknown, options: readonly T[]): value is T {
  return typeof value === 'string' && (options as readonly string[]).includes(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function quoteAll(values: readonly string[]): string {
  return values.map((v) => `'${v}'`).join(', ');
}

/** A short, safe rendering of a bad value for an error message. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  return String(value);
}
