import { createHash } from 'crypto';

/**
 * A relay secret for a test: 32 bytes as 64 hex characters, derived from `label` so every run and
 * every process of one test agree on it (and it passes the relay's strength check).
 */
export function testRelaySecret(label: string): string {
  return createHash('sha256').update(`switchboard test relay secret: ${label}`).digest('hex');
}
