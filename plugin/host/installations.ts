/** Which scenes have Switchboard installed, and with what (a WeakMap: a dropped scene is collectable). */
import type { NetworkManagerComponent } from '../components/network-manager-component';
import type { TransformRegistry } from '../components/networked-transform/transform-registry';
import type { PluginConfig, PluginManifest } from '../manifest';
import type { Clock, Logger } from '../net/types';
import type { PluginHost } from './plugin-host';

export interface SwitchboardInstallation {
  readonly host: PluginHost;
  readonly manifest: PluginManifest;
  readonly config: Readonly<PluginConfig>;
  readonly network: NetworkManagerComponent;
  readonly transforms: TransformRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
}

const installations = new WeakMap<object, SwitchboardInstallation>();

export function findInstallation(scene: object): SwitchboardInstallation | undefined {
  return installations.get(scene);
}

export function recordInstallation(scene: object, installation: SwitchboardInstallation): void {
  installations.set(scene, installation);
}

export function forgetInstallation(scene: object, installation: SwitchboardInstallation): void {
  if (installations.get(scene) === installation) installations.delete(scene);
}
