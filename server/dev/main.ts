/** `npm start`: the dev stack (server/dev/dev-stack.ts). Exits when it has stopped. */
import { runDevCli } from './dev-stack';

runDevCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`switchboard dev: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
