/**
 * One relay or lobby of `npm run fleet`: runs `switchboard <command> …` (server/cli.ts) and stops
 * it like a SIGTERM when its stdin ends, so a fleet child never outlives the stack that started it
 * (even when that stack is killed without a chance to stop its children).
 */
import { main } from '../cli';

process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.resume();
main();
