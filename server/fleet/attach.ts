import type { Logger } from '../../plugin/net/types';
import type { RelayServer } from '../relay/relay-server';
import { startFleetDirectory, type FleetDirectory } from './fleet-directory';

export type { FleetDirectory } from './fleet-directory';

/**
 * The relay's one hook into the fleet: register it in the directory with its endpoints and a
 * session count, and remove the entry when the relay closes. A bad fleet secret closes the relay
 * and rejects, so a misconfigured relay never runs outside its fleet unnoticed.
 */
export async function attachFleet(relay: RelayServer, fleet: { redisUrl: string; secret: string }, logger: Logger): Promise<RelayServer> {
  const host = new URL(relay.wsUrl).hostname;
  let directory: FleetDirectory;
  try {
    directory = await startFleetDirectory({
      redisUrl: fleet.redisUrl,
      secret: fleet.secret,
      endpoints: { udp: { host, port: relay.port }, ws: { host, port: relay.port } },
      sessionCount: () => relay.stats().sessions,
      log: (line) => logger.warn(line),
    });
  } catch (error) {
    await relay.close();
    throw error;
  }
  const close = relay.close.bind(relay);
  return Object.assign(relay, {
    fleet: directory,
    close: async (): Promise<void> => {
      await directory.dispose();
      await close();
    },
  });
}
