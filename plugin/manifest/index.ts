import manifestJson from '../../plugin.json';
import { loadPluginManifest, type PluginManifest } from './plugin-manifest';

export { loadPluginManifest, resolvePluginConfig, PluginConfigError, describe, FRAME_PHASES, COMPONENT_SCOPES, type FramePhase, type ComponentScope, type ChannelConfig, type PluginConfig, type ComponentEntry, type SystemEntry, type PluginManifest } from './plugin-manifest';
export { parseVersion, parseVersionRange, satisfies, compareVersions, type Version, type VersionRange } from './semver-range';

let bundled: PluginManifest | null = null;

/** The repository's plugin.json, validated once (bundlers inline the JSON, so this works in browsers). */
export function bundledPluginManifest(): PluginManifest {
  bundled ??= loadPluginManifest(manifestJson);
  return bundled;
}
