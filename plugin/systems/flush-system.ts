import { Result } from '../net/result';
import type { SystemFactory } from './system-parts';

/**
 * Late update: `flush()` once per rendered frame, after every gameplay observer of the frame, so
 * whatever a script queued this frame leaves in this frame's datagrams.
 */
export const createFlushSystem: SystemFactory = (entry, { network, logger }) => {
  // NotAuthenticated (relay refused the token) is logged by the manager itself, once.
  const quiet = new Set<Result>([Result.Ok, Result.NotRunning, Result.NotAuthenticated]);
  return {
    name: entry.name,
    phase: entry.phase,
    order: entry.order,
    run() {
      const result = network.manager.flush();
      if (!quiet.has(result)) {
        quiet.add(result);
        logger.warn(`flush() returned ${Result[result] ?? result}`);
      }
    },
  };
};
