import { expect } from 'chai';
import { ColyseusLobby } from '../../plugin/lobby/colyseus-lobby';
import { parseLobbyCliArgs, runLobbyCli } from '../../server/lobby';
import { testRelaySecret } from '../helpers/secrets';

const LOBBY_SECRET = testRelaySecret('lobby-cli');
const ENV_SECRET = testRelaySecret('lobby-cli env');

const quiet = { info: () => undefined, warn: () => undefined };

describe('switchboard lobby (CLI body)', () => {
  it('parses --port, --host, --relay-secret and --capacity, in both spellings', () => {
    expect(parseLobbyCliArgs(['--port', '0', '--host', '127.0.0.1', '--relay-secret', LOBBY_SECRET, '--capacity', '4'])).to.deep.equal({
      ok: true,
      help: false,
      options: { port: 0, host: '127.0.0.1', relaySecret: LOBBY_SECRET, capacity: 4 },
    });
    expect(parseLobbyCliArgs(['--port=2567'])).to.deep.equal({ ok: true, help: false, options: { port: 2567 } });
    expect(parseLobbyCliArgs([], { SWITCHBOARD_RELAY_SECRET: ENV_SECRET })).to.deep.include({ options: { relaySecret: ENV_SECRET } });
    expect(parseLobbyCliArgs(['--help'])).to.include({ ok: true, help: true });
  });

  it('names what is wrong with bad arguments', () => {
    const errors = [['--port', 'abc'], ['--port'], ['--relay-secret', '--port', '1'], ['--nope'], ['--capacity', '-1']].map((args) => {
      const parsed = parseLobbyCliArgs(args);
      return parsed.ok ? 'accepted' : parsed.error;
    });
    expect(errors).to.deep.equal([
      '--port needs a whole number',
      '--port needs a whole number',
      '--relay-secret needs a value',
      'unknown argument "--nope"',
      '--capacity needs a whole number',
    ]);
  });

  it('starts a lobby server members can join, and prints where', async () => {
    const out: string[] = [];
    const server = await runLobbyCli(['--port', '0', '--relay-secret', LOBBY_SECRET], {
      out: (line) => out.push(line),
      err: (line) => out.push(line),
      logger: quiet,
      handleSignals: false,
      env: {},
    });
    expect(server).to.not.equal(undefined);
    try {
      expect(out.join('\n')).to.match(/listening on ws:\/\/127\.0\.0\.1:\d+ \(hands out relay tokens\)/);
      const lobby = await ColyseusLobby.join(server!.url, 'from-cli', { logger: quiet });
      expect(lobby.relayToken).to.be.a('string');
      await lobby.leave();
    } finally {
      await server!.close();
    }
  });

  it('prints usage and exit code 2 for bad arguments, starting nothing', async () => {
    const err: string[] = [];
    const previous = process.exitCode;
    try {
      const server = await runLobbyCli(['--bogus'], { out: () => undefined, err: (line) => err.push(line), env: {}, handleSignals: false });
      expect(server).to.equal(undefined);
      expect(process.exitCode).to.equal(2);
      expect(err.join('\n')).to.match(/unknown argument "--bogus"[\s\S]*usage: switchboard lobby/);
    } finally {
      process.exitCode = previous;
    }
  });
});
