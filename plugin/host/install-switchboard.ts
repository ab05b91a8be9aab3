/**
 * The one call that puts Switchboard into a Babylon scene, and the one call that finds it again:
 *
 *   const net = installSwitchboard(scene, { config: { relay: 'wss://relay.example:7777' } });
 *   …later, in any gameplay script:  getNetworkManager(scene).messagesOn(0).subscribe(…)
 *
 * Disposing the scene disposes the plugin: systems stop, observables complete, the manager closes
 * its peers and leaves the relay.
 */
import { NetworkManagerComponent, type ExtraManagerOptions } from '../components/network-manager-component';
import { TransformRegistry } from '../components/networked-transform/transform-registry';
import { bundledPluginManifest, loadPluginManifest, parseVersion, parseVersionRange, PluginConfigError, resolvePluginConfig, satisfies, type PluginConfig, type PluginManifest } from '../manifest';
import type { Identity } from '../net/identity';
import { consoleLogger, systemClock, type Clock, type Logger } from '../net/types';
import { builtInSystems, type SystemParts } from '../systems';
import { findInstallation, forgetInstallation, recordInstallation, type SwitchboardInstallation } from './installations';
import { PluginHost } from './plugin-host';
import { engineVersionOf, type HostScene } from './scene-types';

export interface SwitchboardInstallOptions {
  /** Overrides of plugin.json's config defaults; validated like them. */
  config?: Partial<PluginConfig>;
  /** Long-term key pair (keeps the peer id across runs); generated when absent. */
  identity?: Identity;
  /** Further NetworkManager options: linkConditioner, timeouts, limits, clock, socketFactory… */
  managerOptions?: ExtraManagerOptions;
  /** Time source of the frame phases and NetworkedTransform, in ms (default performance.now). */
  clock?: Clock;
  logger?: Logger;
  /** A manifest to use instead of the repository's plugin.json (validated the same way). */
  manifest?: unknown;
}

const NETWORK_MANAGER_COMPONENT = 'NetworkManager';
const KNOWN_COMPONENTS: Record<string, 'scene' | 'node'> = { NetworkManager: 'scene', NetworkedTransform: 'node' };

/**
 * Installs the plugin into `scene` and returns its NetworkManager component. Throws
 * PluginConfigError for a bad manifest or config, and Error when the scene already has it, is
 * disposed, or runs an engine outside the manifest's `engine` range.
 */
export function installSwitchboard(scene: HostScene, options: SwitchboardInstallOptions = {}): NetworkManagerComponent {
  if (findInstallation(scene)) {
    throw new Error('Switchboard is already installed on this scene; reach it with getNetworkManager(scene) (a second install would run two managers and flush twice per frame)');
  }
  const logger = options.logger ?? options.managerOptions?.logger ?? consoleLogger;
  const clock = options.clock ?? systemClock;
  const manifest = options.manifest === undefined ? bundledPluginManifest() : loadPluginManifest(options.manifest, 'manifest');
  const config = resolvePluginConfig(manifest, options.config);
  checkPluginParts(manifest);
  checkEngine(scene, manifest, logger);

  const host = new PluginHost(scene, clock, logger);
  let network: NetworkManagerComponent;
  try {
    network = new NetworkManagerComponent({ config, identity: options.identity, managerOptions: options.managerOptions, logger });
  } catch (error) {
    host.dispose();
    throw error;
  }
  const transforms = new TransformRegistry(network, {
    channelId: config.transformChannel,
    sendRateHz: config.sendRateHz,
    interpolationDelayMs: config.interpolationDelayMs,
    snapAfterGapMs: config.snapAfterGapMs,
    clock,
    logger,
  });
  const installation: SwitchboardInstallation = { host, manifest, config, network, transforms, clock, logger };
  // Disposed in reverse: transforms, then the manager, then the scene forgets the installation.
  host.addDisposable({ dispose: () => forgetInstallation(scene, installation) });
  host.addDisposable(network);
  host.addDisposable(transforms);
  const parts: SystemParts = { network, transforms, logger };
  for (const entry of manifest.systems) host.addSystem(builtInSystems[entry.name]!.create(entry, parts));
  recordInstallation(scene, installation);
  return network;
}

/**
 * The scene's NetworkManager component — the documented way for gameplay scripts to reach it.
 * Throws if Switchboard is not installed on the scene (or the scene was disposed).
 */
export function getNetworkManager(scene: object): NetworkManagerComponent {
  return getSwitchboard(scene).network;
}

/** Everything installed on the scene (host, manifest, config, component, transform registry). */
export function getSwitchboard(scene: object): SwitchboardInstallation {
  const installation = findInstallation(scene);
  if (!installation) throw new Error('Switchboard is not installed on this scene (or the scene was disposed); call installSwitchboard(scene) first');
  return installation;
}

export function isSwitchboardInstalled(scene: object): boolean {
  return findInstallation(scene) !== undefined;
}

/** Names in the manifest must be parts this plugin has, in the phases and order their contracts need. */
function checkPluginParts(manifest: PluginManifest): void {
  const issues: string[] = [];
  const known = Object.keys(builtInSystems);
  manifest.systems.forEach((entry, i) => {
    const builtIn = builtInSystems[entry.name];
    if (!builtIn) return void issues.push(`systems[${i}].name: expected one of ${known.map((n) => `'${n}'`).join(', ')}, got '${entry.name}'`);
    if (entry.phase !== builtIn.phase) issues.push(`systems[${i}].phase: '${entry.name}' must run in '${builtIn.phase}', got '${entry.phase}'`);
    const orderOf = (name: string) => manifest.systems.find((s) => s.name === name)?.order;
    const afterOrder = builtIn.after === undefined ? undefined : orderOf(builtIn.after);
    if (afterOrder !== undefined && entry.order <= afterOrder) issues.push(`systems[${i}].order: '${entry.name}' must run after '${builtIn.after}' (order ${afterOrder}), got ${entry.order}`);
    const beforeOrder = builtIn.before === undefined ? undefined : orderOf(builtIn.before);
    if (beforeOrder !== undefined && entry.order >= beforeOrder) issues.push(`systems[${i}].order: '${entry.name}' must run before '${builtIn.before}' (order ${beforeOrder}), got ${entry.order}`);
  });
  for (const [name, builtIn] of Object.entries(builtInSystems)) {
    if (builtIn.required && !manifest.systems.some((s) => s.name === name)) issues.push(`systems: expected an entry named '${name}' (phase '${builtIn.phase}'), found none`);
  }
  manifest.components.forEach((entry, i) => {
    const scope = KNOWN_COMPONENTS[entry.name];
    if (!scope) issues.push(`components[${i}].name: expected one of ${Object.keys(KNOWN_COMPONENTS).map((n) => `'${n}'`).join(', ')}, got '${entry.name}'`);
    else if (scope !== entry.scope) issues.push(`components[${i}].scope: '${entry.name}' is a ${scope} component, got '${entry.scope}'`);
  });
  if (!manifest.components.some((c) => c.name === NETWORK_MANAGER_COMPONENT)) issues.push(`components: expected an entry named '${NETWORK_MANAGER_COMPONENT}', found none`);
  if (issues.length > 0) throw new PluginConfigError('plugin manifest', issues);
}

function checkEngine(scene: HostScene, manifest: PluginManifest, logger: Logger): void {
  const found = engineVersionOf(scene);
  const version = found === null ? null : parseVersion(found);
  const range = parseVersionRange(manifest.engine);
  if (version === null || range === null) {
    logger.warn(`could not read the @babylonjs/core version of this scene's engine (${found ?? 'none'}); ${manifest.name} expects ${manifest.engine}`);
    return;
  }
  if (!satisfies(version, range)) throw new Error(`${manifest.name} ${manifest.version} needs @babylonjs/core ${manifest.engine}, but this scene runs ${found}`);
}
