/** Role `relay`: our relay (server/relay) in its own process, as it runs in production. */
import { startRelay, type RelayOptions } from '../../server/relay';
import type { RoleFactory } from '../lib/role-protocol';
import { LOOPBACK } from './udp-util';

export interface RelayRoleInfo {
  udpUrl: string;
  wsUrl: string;
  port: number;
  /** Fleet relays: the relay number (null: standalone). */
  relayNumber: number | null;
}

const quiet = { info: () => undefined, warn: () => undefined };

export const relayRole: RoleFactory = async (options: Omit<RelayOptions, 'host' | 'logger'>) => {
  const relay = await startRelay({ ...options, host: LOOPBACK, port: 0, logger: quiet });
  const info: RelayRoleInfo = { udpUrl: relay.udpUrl, wsUrl: relay.wsUrl, port: relay.port, relayNumber: relay.fleet?.relayNumber ?? null };
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
        forwardedToFleet: s.forwardedToFleet,
        fromFleet: s.fromFleet,
      };
      for (const [reason, count] of Object.entries(s.drops)) flat[`drop.${reason}`] = count;
      const link = relay.fleet?.linkStats();
      if (link !== undefined) {
        flat['fleet.sent'] = link.sent;
        flat['fleet.sentRecords'] = link.sentRecords;
        for (const [reason, count] of Object.entries(link.drops)) flat[`drop.fleet.${reason}`] = count;
      }
      return flat;
    },
    methods: {
      stats: () => relay.stats(),
      fleetPeers: () => relay.fleet?.linkStats().peers ?? 0,
    },
    stop: () => relay.close(),
  };
};
