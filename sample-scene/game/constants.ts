/** Numbers every player of the sample must agree on (channels, arena, pick-up radius). */

/** Reliable channel of the loot messages (plugin.json's channel 0). */
export const LOOT_CHANNEL = 0;
/** Unreliable channel NetworkedTransform uses (plugin.json's `transformChannel`). */
export const TRANSFORM_CHANNEL = 1;
/** Every player's avatar is entity 1 among its owner's networked nodes. */
export const AVATAR_ENTITY_ID = 1;

/** The ground is a square of this half-size around the origin; players and loot stay on it. */
export const ARENA_HALF_SIZE = 14;
/** Units per second a player walks. */
export const MOVE_SPEED = 6;
/** A player whose centre comes this close to a loot's centre claims it. */
export const PICKUP_RADIUS = 1.1;
/** Loot is thrown this far ahead of the dropper. */
export const DROP_DISTANCE = 3;
/** Loot one player may have on the ground at once; further drops are refused until some is taken. */
export const MAX_LOOT_PER_DROPPER = 16;
/** Decided pick-ups remembered (to ignore repeats and to show scores); the oldest are forgotten first. */
export const MAX_REMEMBERED_PICKUPS = 4096;
