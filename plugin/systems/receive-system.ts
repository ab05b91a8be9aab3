import { Result } from '../net/result';
import type { SystemFactory } from './system-parts';

/**
 * Early update: `runCallbacks()`, so everything that arrived since the last frame reaches
 * message$/peerState$/routeUpdate$ subscribers before gameplay observers of this frame run.
 */
export const createReceiveSystem: SystemFactory = (entry, { network, logger }) => {
  const reported = new Set<Result>();
  return {
    name: entry.name,
    phase: entry.phase,
    order: entry.order,
    run() {
      const result = network.manager.runCallbacks();
      if (result !== Result.Ok && result !== Result.NotRunning && !reported.has(result)) {
        reported.add(result);
        logger.warn(`runCallbacks() returned ${Result[result] ?? result}`);
      }
    },
  };
};
