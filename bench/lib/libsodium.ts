/**
 * libsodium-wrappers, ready, for roles that run with useLibsodium(). Through require: role
 * children find packages by NODE_PATH, which import() ignores.
 */
import type Sodium from 'libsodium-wrappers';

export async function readyLibsodium(): Promise<typeof Sodium> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('libsodium-wrappers') as typeof Sodium | { default: typeof Sodium };
  const sodium = 'default' in loaded ? loaded.default : loaded;
  await sodium.ready;
  return sodium;
}
