/**
 * A bot process: `node -r ts-node/register/transpile-only sample-scene/bot/main.ts --relay URL
 * --lobby-url URL [--lobby sample] [--seed 1] [--min-peers 0] [--drop-every-ms 1500:3500] [--report]`.
 *
 * With --report every BotReport goes to stdout as one JSON line. stdin takes commands, one per
 * line: `freeze` (stop moving and dropping) and `quit`. The bot also stops when stdin ends (its
 * parent is gone) and on SIGINT/SIGTERM; a clean stop exits with code 0.
 */
import { createInterface } from 'node:readline';
import type { Logger } from 'switchboard';
import { BOT_USAGE, parseBotArgs } from './bot-args';
import { startBot, type RunningBot } from './bot';

async function main(): Promise<void> {
  const parsed = parseBotArgs(process.argv.slice(2));
  if (!parsed.ok) {
    process.stderr.write(`bot: ${parsed.error}\n${BOT_USAGE}\n`);
    process.exit(2);
  }
  const tag = `[bot ${parsed.options.seed}]`;
  const logger: Logger = { info: (m) => process.stderr.write(`${tag} ${m}\n`), warn: (m) => process.stderr.write(`${tag} ${m}\n`) };
  const write = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);
  let bot: RunningBot;
  try {
    bot = await startBot({ ...parsed.options, logger, report: parsed.report ? write : undefined });
  } catch (error) {
    process.stderr.write(`${tag} could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  if (!parsed.report) logger.info(`joined lobby "${parsed.options.lobbyName}" as ${bot.joined.session.player(bot.peerId)!.label}`);

  let exiting = false;
  const stop = (code: number) => {
    if (exiting) return;
    exiting = true;
    // Bounded: a stop that hangs must not keep the process alive.
    const guard = setTimeout(() => process.exit(code === 0 ? 3 : code), 5_000);
    guard.unref();
    bot.stop().then(
      () => process.exit(code),
      (error: unknown) => {
        process.stderr.write(`${tag} stop failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const command = line.trim();
    if (command === 'freeze') bot.freeze();
    else if (command === 'quit') stop(0);
    else if (command.length > 0) process.stderr.write(`${tag} unknown command ${JSON.stringify(command.slice(0, 40))} (freeze | quit)\n`);
  });
  lines.on('close', () => stop(0));
}

if (require.main === module) void main();
