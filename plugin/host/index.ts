/** The plugin host's public surface (no Babylon import), for plugin/index.ts to re-export. */
export { installSwitchboard, getNetworkManager, getSwitchboard, isSwitchboardInstalled, type SwitchboardInstallOptions } from './install-switchboard';
export type { SwitchboardInstallation } from './installations';
export { PluginHost, type PluginSystem, type FrameContext, type Disposable } from './plugin-host';
export type { HostScene, SceneObservable, SceneObserverHandle } from './scene-types';
export {
  loadPluginManifest,
  resolvePluginConfig,
  bundledPluginManifest,
  PluginConfigError,
  FRAME_PHASES,
  type PluginManifest,
  type PluginConfig,
  type ChannelConfig,
  type FramePhase,
  type SystemEntry,
  type ComponentEntry,
} from '../manifest';
