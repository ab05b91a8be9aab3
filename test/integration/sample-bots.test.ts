/**
 * Three sample bots, each its own process (sample-scene/bot/main.ts), join one lobby on a real
 * lobby server and a real relay with a secret (127.0.0.1, port 0). Each reports what it sees as
 * JSON lines; the test checks that every bot sees the two others move, then freezes them and
 * checks that all three agree on every loot pick-up.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { BotReport } from '../../sample-scene/bot/bot';
import { startLobbyServer, type LobbyServer } from '../../server/lobby';
import { startRelay, type RelayServer } from '../../server/relay';
import { hasExited, spawnBots, type BotProcesses } from '../../server/dev/bot-processes';
import { waitFor } from '../helpers/wait';
import { testRelaySecret } from '../helpers/secrets';

const quiet = { info: () => undefined, warn: () => undefined };
const BOTS = 3;
/** Pick-ups every bot must have seen decided before the bots are frozen. */
const PICKUPS_WANTED = 3;
/** How far a replica must travel before we say the bot saw that player move. */
const MOVED_UNITS = 2;

class BotLog {
  peerId: string | null = null;
  /** First and latest position seen of each other player. */
  readonly firstSeen = new Map<string, { x: number; z: number }>();
  readonly moved = new Set<string>();
  readonly appeared = new Map<string, string>();
  readonly taken = new Map<string, { dropper: string; winner: string }>();
  readonly claimed = new Set<string>();
  readonly vanished = new Set<string>();
  frozen = false;
  stopped = false;
  readonly problems: string[] = [];

  take(report: BotReport): void {
    switch (report.event) {
      case 'ready':
        this.peerId = report.peerId;
        break;
      case 'state':
        for (const other of report.others) {
          const first = this.firstSeen.get(other.peerId);
          if (!first) this.firstSeen.set(other.peerId, { x: other.x, z: other.z });
          else if (Math.hypot(other.x - first.x, other.z - first.z) >= MOVED_UNITS) this.moved.add(other.peerId);
        }
        break;
      case 'appeared':
        this.appeared.set(report.key, report.dropper);
        break;
      case 'claimed':
        this.claimed.add(report.key);
        break;
      case 'taken':
        if (this.taken.has(report.key)) this.problems.push(`${report.key} decided twice`);
        this.taken.set(report.key, { dropper: report.dropper, winner: report.winner });
        break;
      case 'vanished':
        this.vanished.add(report.key);
        break;
      case 'frozen':
        this.frozen = true;
        break;
      case 'stopped':
        this.stopped = true;
        break;
    }
  }
}

describe('sample bots: three bot processes in one lobby', function () {
  this.timeout(120_000);
  let relay: RelayServer;
  let lobby: LobbyServer;
  let bots: BotProcesses | undefined;
  let logs: BotLog[];
  const exits: Promise<number | null>[] = [];

  before(async () => {
    const secret = testRelaySecret('sample-bots');
    relay = await startRelay({ port: 0, secret, logger: quiet });
    lobby = await startLobbyServer({ port: 0, relaySecret: secret, logger: quiet });
  });

  after(async () => {
    await bots?.stop();
    await lobby?.close();
    await relay?.close();
  });

  it('each bot sees the two others move, and all agree on every loot pick-up', async () => {
    bots = spawnBots(BOTS, {
      relay: relay.udpUrl,
      lobbyUrl: lobby.url,
      lobbyName: 'bots-test',
      seed: 40,
      // Drop only once all three are connected, so every bot sees every drop.
      extraArgs: ['--report', '--min-peers', String(BOTS - 1), '--drop-every-ms', '700:1400'],
      stdout: 'pipe',
    });
    logs = bots.children.map((child: ChildProcess, i: number) => {
      const log = new BotLog();
      exits.push(new Promise((resolve) => child.once('exit', (code) => resolve(code))));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          log.take(JSON.parse(line) as BotReport);
        } catch {
          log.problems.push(`bot ${i} printed a line that is not JSON: ${line.slice(0, 120)}`);
        }
      });
      return log;
    });
    const alive = () => bots!.children.every((c) => !hasExited(c));

    await waitFor('all three bots to join', () => logs.every((l) => l.peerId !== null) || !alive(), { timeoutMs: 45_000, intervalMs: 50 });
    expect(alive(), 'every bot still running after joining').to.equal(true);
    const ids = logs.map((l) => l.peerId!);
    expect(new Set(ids).size).to.equal(BOTS);

    await waitFor(
      'every bot to see both other bots move',
      () => logs.every((log) => ids.filter((id) => id !== log.peerId).every((id) => log.moved.has(id))),
      { timeoutMs: 30_000, intervalMs: 50 },
    );

    const decidedEverywhere = () => [...logs[0]!.taken.keys()].filter((key) => logs.every((l) => l.taken.has(key)));
    await waitFor(`${PICKUPS_WANTED} pick-ups decided at every bot`, () => decidedEverywhere().length >= PICKUPS_WANTED, { timeoutMs: 45_000, intervalMs: 50 });

    // Freeze: nobody moves or drops any more, so claims in flight settle and nothing new starts.
    for (const child of bots.children) child.stdin!.write('freeze\n');
    await waitFor('every bot to freeze', () => logs.every((l) => l.frozen), { timeoutMs: 10_000, intervalMs: 20 });
    const union = () => new Set(logs.flatMap((l) => [...l.taken.keys()]));
    await waitFor('every bot to know every decided pick-up', () => logs.every((l) => l.taken.size === union().size), { timeoutMs: 15_000, intervalMs: 50 });

    for (const key of union()) {
      const verdicts = logs.map((l) => l.taken.get(key));
      const first = verdicts[0]!;
      for (const verdict of verdicts) expect(verdict, `verdict on ${key}`).to.deep.equal(first);
      expect(ids, `winner of ${key} is a bot`).to.include(first.winner);
      expect(first.winner, `the dropper of ${key} did not take it`).to.not.equal(first.dropper);
      // Every bot saw the item on the ground before it was decided (they all were connected).
      for (const log of logs) expect(log.appeared.has(key), `bot ${log.peerId} saw ${key} dropped`).to.equal(true);
    }
    for (const log of logs) {
      expect(log.problems).to.deep.equal([]);
      expect(log.vanished.size).to.equal(0);
    }
    const contested = [...union()].filter((key) => logs.filter((l) => l.claimed.has(key)).length > 1).length;
    console.log(`      ${union().size} pick-ups agreed by all three bots (${contested} contested by two claimants)`);

    await bots.stop();
    expect(await Promise.all(exits)).to.deep.equal([0, 0, 0]);
    expect(logs.every((l) => l.stopped)).to.equal(true);
  });
});
