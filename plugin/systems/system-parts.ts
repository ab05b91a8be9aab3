import type { NetworkManagerComponent } from '../components/network-manager-component';
import type { TransformRegistry } from '../components/networked-transform/transform-registry';
import type { SystemEntry } from '../manifest';
import type { Logger } from '../net/types';
import type { PluginSystem } from '../host/plugin-host';

/** What built-in systems work on; made once per installation. */
export interface SystemParts {
  readonly network: NetworkManagerComponent;
  readonly transforms: TransformRegistry;
  readonly logger: Logger;
}

export type SystemFactory = (entry: SystemEntry, parts: SystemParts) => PluginSystem;
