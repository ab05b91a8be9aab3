/** Role `relay`: our relay (server/relay) in its own process, as it runs in production. */
import { startRelay, type RelayOptions } from '../../server/relay';
import type { RoleFactory } from '../lib/role-protocol';
import { LOOPBACK } from './udp-util';

export interface RelayRoleInfo {
  udpUrl: string;
  wsUrl: string;
  port: number;
}

const quiet = { info: () => undefined, warn: () => undefined };

export const relayRole: RoleFactory = async (options: Omit<RelayOptions, 'host' | 'logger'>) => {
  const relay = await startRelay({ ...options, host: LOOPBACK, port: 0, logger: quiet });
  const info: RelayRoleInfo = { udpUrl: relay.udpUrl, wsUrl: relay.wsUrl, port: relay.port };
  return {
    info,
    counters: () => {
      const s = relay.stats();
      const flat: Record<string, number> = {
        sessions: s.sessions,
        datagramsIn: s.datagramsIn,
        datagramsOut: s.datagramsOut,
        forwarded: s.forwarded,
        forwardedBytes: s.forwardedBytes,
        bytesIn: s.bytesIn,
        registrations: s.registrations,
      };
      for (const [reason, count] of Object.entries(s.drops)) flat[`drop.${reason}`] = count;
      return flat;
    },
    methods: {
      stats: () => relay.stats(),
    },
    stop: () => relay.close(),
  };
};
