import { randomBytes } from 'crypto';
import type { Logger } from '../../plugin/net/types';
import type { FleetHooks, RelayServer } from '../relay/relay-server';
import type { RelayStats } from '../relay/stats';
import { startFleetDirectory, type FleetDirectory, type FleetMemberInfo } from './fleet-directory';
import { FleetLink, type FleetLinkStats } from './fleet-link';

export type { FleetDirectory, FleetMemberInfo } from './fleet-directory';
export type { FleetLinkStats } from './fleet-link';

/** A fleet relay's directory entry and relay-to-relay link. */
export interface FleetState extends FleetDirectory {
  /** The relay-to-relay UDP link's address (FLEET_DATA only, PROTOCOL.md §3.13). */
  readonly linkHost: string;
  readonly linkPort: number;
  /** What the link sent, accepted and dropped. */
  linkStats(): FleetLinkStats;
}

/** RelayStats of a fleet relay: the relay's own plus its fleet link's. */
export interface FleetRelayStats extends RelayStats {
  fleet: FleetLinkStats & { relayNumber: number | null; redisUp: boolean; forgedEntries: number };
}

function linkPeers(members: FleetMemberInfo[]): { relayNumber: number; id: string; host: string; port: number }[] {
  const peers = [];
  for (const member of members) {
    const link = member.endpoints.fleet;
    if (link !== undefined && typeof link.host === 'string' && Number.isInteger(link.port)) peers.push({ relayNumber: member.relayNumber, id: member.id, host: link.host, port: link.port });
  }
  return peers;
}

/**
 * The relay's hook into the fleet: bind the relay-to-relay link, register the relay in the
 * directory with its endpoints (the link's among them) and a session count, stamp its relay number
 * into new session ids, and pass DATA for other relays' sessions over the link. A bad fleet secret
 * closes the relay and rejects, so a misconfigured relay never runs outside its fleet unnoticed.
 */
export async function attachFleet(relay: RelayServer & FleetHooks, fleet: { redisUrl: string; secret: string; linkPort?: number }, logger: Logger): Promise<RelayServer> {
  const host = new URL(relay.wsUrl).hostname;
  const id = randomBytes(16).toString('hex');
  let link: FleetLink;
  let directory: FleetDirectory;
  const linkPort = fleet.linkPort ?? 0;
  if (!Number.isInteger(linkPort) || linkPort < 0 || linkPort > 65535) {
    await relay.close();
    throw new RangeError(`relay option fleet.linkPort must be an integer 0..65535, got ${String(fleet.linkPort)}`);
  }
  // Until the directory gives a number, new ids name no relay (0): reachable here only.
  relay.setFleetNumber(0);
  try {
    link = await FleetLink.bind({
      host: relay.bindHost,
      port: linkPort,
      secret: fleet.secret,
      selfId: id,
      onRecord: (destinationHigh, destinationLow, sourceLow, delivery, now) => relay.deliverFromFleet(destinationHigh, destinationLow, sourceLow, delivery, now),
    });
  } catch (error) {
    await relay.close();
    throw new Error(`fleet link: cannot bind UDP ${relay.bindHost}:${linkPort}: ${(error as Error).message}`);
  }
  try {
    directory = await startFleetDirectory({
      redisUrl: fleet.redisUrl,
      secret: fleet.secret,
      id,
      endpoints: { udp: { host, port: relay.port }, ws: { host, port: relay.port }, fleet: { host, port: link.port } },
      sessionCount: () => relay.stats().sessions,
      log: (line) => logger.warn(line),
      onMembers: (members) => link.setPeers(linkPeers(members)),
      onRelayNumber: (relayNumber) => {
        relay.setFleetNumber(relayNumber ?? 0);
        link.setRelayNumber(relayNumber);
        if (relayNumber !== null) logger.info(`relay: fleet relay number ${relayNumber}, relay-to-relay link on udp ${host}:${link.port}`);
      },
    });
  } catch (error) {
    await link.close();
    await relay.close();
    throw error;
  }
  relay.setFleetSender((relayNumber, data, sourceIdBytes) => link.send(relayNumber, data, sourceIdBytes));
  const close = relay.close.bind(relay);
  const stats = relay.stats.bind(relay);
  const state: FleetState = Object.assign(directory, {
    linkHost: host,
    linkPort: link.port,
    linkStats: () => link.stats(),
  });
  let closing: Promise<void> | null = null;
  return Object.assign(relay, {
    fleet: state,
    stats: (): FleetRelayStats => ({
      ...stats(),
      fleet: { ...link.stats(), relayNumber: directory.relayNumber, redisUp: directory.redisUp, forgedEntries: directory.forgedEntries },
    }),
    close: (): Promise<void> => {
      closing ??= (async () => {
        relay.setFleetSender(null);
        await directory.dispose();
        await close();
        await link.close();
      })();
      return closing;
    },
  });
}
