/** `npm run fleet`: the dev fleet (server/dev/fleet-stack.ts). Exits when it has stopped. */
import { runFleetCli } from './fleet-stack';

runFleetCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`switchboard fleet: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
