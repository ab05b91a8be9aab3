/** The relay's rules (test/helpers/relay-rule-cases.ts) against the real relay on 127.0.0.1; the same table runs against the in-memory switch in test/unit/memory-switch-rules.test.ts. */
import { startRelay, type RelayServer } from '../../server';
import { decodeRelayDatagram, type RelayDatagram } from '../../plugin/net/wire/relay-codec';
import { RELAY_RULE_CASES, type RuleDriver, type RuleEndpoint, type RuleTransport } from '../helpers/relay-rule-cases';
import { RawUdpClient, RawWsClient, quietLogger } from './relay-test-helpers';

function relayDriver(relay: RelayServer, closers: (() => Promise<void>)[]): RuleDriver {
  return {
    async open(transport: RuleTransport): Promise<RuleEndpoint> {
      const client = transport === 'udp' ? await RawUdpClient.open(relay.port) : await RawWsClient.open(relay.wsUrl);
      closers.push(() => client.close());
      return {
        transport,
        send: (bytes) => client.send(bytes),
        async next(what: string): Promise<RelayDatagram> {
          const bytes = await client.next(what, 3000);
          const decoded = decodeRelayDatagram(bytes);
          if (!decoded.ok) throw new Error(`${what}: undecodable: ${decoded.error}`);
          return decoded.value;
        },
      };
    },
    drops: () => relay.stats().drops,
    sessions: () => relay.stats().sessions,
  };
}

describe('the relay follows its rules (the shared case table, real relay on 127.0.0.1)', () => {
  for (const rule of RELAY_RULE_CASES) {
    it(rule.name, async () => {
      const relay = await startRelay({ host: '127.0.0.1', port: 0, logger: quietLogger, webrtc: false });
      const closers: (() => Promise<void>)[] = [];
      try {
        await rule.run(relayDriver(relay, closers));
      } finally {
        for (const close of closers.reverse()) await close();
        await relay.close();
      }
    });
  }
});
