/**
 * Joining the sample game, the same way in the browser page and in a headless bot: join the
 * lobby (which may hand out a relay token), install Switchboard on the scene with that token,
 * start a GameSession, and let bindRouteSync open every other member of the lobby as a peer.
 */
import type { Scene } from '@babylonjs/core/scene.js';
import type { NetworkManagerComponent } from 'switchboard';
import { installSwitchboard } from 'switchboard';
import { ColyseusLobby } from 'switchboard';
import { bindRouteSync, type RouteSyncSubscription } from 'switchboard';
import { consoleLogger, type LinkConditioner, type Logger } from 'switchboard';
import { LOOT_CHANNEL, TRANSFORM_CHANNEL } from '../game/constants';
import { GameSession } from './game-session';

export interface JoinSampleOptions {
  /** Relay URL: ws:// or wss:// in a browser, also udp:// in Node. */
  relay: string;
  /** Lobby server URL ('ws://host:port'). */
  lobbyUrl: string;
  lobbyName: string;
  /** Simulated impairment of what this player sends. */
  linkConditioner?: LinkConditioner;
  logger?: Logger;
}

export interface JoinedSample {
  readonly lobby: ColyseusLobby;
  readonly net: NetworkManagerComponent;
  readonly session: GameSession;
  readonly routeSync: RouteSyncSubscription;
  /**
   * Stops the session and route sync and leaves the lobby. Idempotent. The scene stays: dispose
   * it afterwards to close the peers and leave the relay (`await net.whenDisposed()`).
   */
  leave(): Promise<void>;
}

export async function joinSample(scene: Scene, options: JoinSampleOptions): Promise<JoinedSample> {
  const logger = options.logger ?? consoleLogger;
  const lobby = await ColyseusLobby.join(options.lobbyUrl, options.lobbyName, { logger });
  let net: NetworkManagerComponent;
  try {
    net = installSwitchboard(scene, {
      // A function, not the string: the lobby renews the token before it expires (600 s), and
      // a relay restart later in the game must register with the current one.
      config: { relay: relayList(options.relay, lobby), token: null },
      managerOptions: { token: () => lobby.relayToken, ...(options.linkConditioner ? { linkConditioner: options.linkConditioner } : {}) },
      logger,
    });
    checkChannels(net);
  } catch (error) {
    await lobby.leave();
    throw error;
  }
  const session = new GameSession(net, { logger });
  const routeSync = bindRouteSync(net.manager, lobby, { channels: [...net.config.channels], logger });
  let leaving: Promise<void> | null = null;
  return {
    lobby,
    net,
    session,
    routeSync,
    leave() {
      leaving ??= (async () => {
        routeSync.unsubscribe();
        session.dispose();
        await lobby.leave().catch((error: unknown) => logger.warn(`sample: leaving the lobby failed: ${error instanceof Error ? error.message : String(error)}`));
      })();
      return leaving;
    },
  };
}

/** The sample's messages need plugin.json's channel layout: loot on a reliable channel, transforms on an unreliable one. */
function checkChannels(net: NetworkManagerComponent): void {
  const loot = net.config.channels.find((c) => c.id === LOOT_CHANNEL);
  if (!loot?.reliable) throw new Error(`sample: plugin config must have reliable channel ${LOOT_CHANNEL} for loot`);
  if (net.config.transformChannel !== TRANSFORM_CHANNEL) throw new Error(`sample: plugin config transformChannel must be ${TRANSFORM_CHANNEL}, got ${net.config.transformChannel}`);
}

/**
 * The relay to start with, then the other relays of the fleet the lobby handed out (least loaded
 * first, same transport), so the manager moves to another relay if its own dies; just the one
 * relay when the lobby knows no fleet.
 */
function relayList(relay: string, lobby: ColyseusLobby): string | string[] {
  const fleet = lobby.relays;
  if (fleet === undefined) return relay;
  const sameKind = relay.startsWith('udp:') ? fleet.udp : fleet.ws;
  const list = [relay, ...sameKind.filter((url) => url !== relay)].slice(0, 8);
  return list.length === 1 ? relay : list;
}

