/** The relay's rules (test/helpers/relay-rule-cases.ts) against the in-memory switch; the same table runs against the real relay in test/integration/relay-rules.test.ts. */
import { MemorySwitch } from '../../plugin/net/transport/memory-switch';
import { decodeRelayDatagram, type RelayDatagram } from '../../plugin/net/wire/relay-codec';
import { RELAY_RULE_CASES, type RuleDriver, type RuleEndpoint, type RuleTransport } from '../helpers/relay-rule-cases';

function memoryDriver(sw: MemorySwitch): RuleDriver {
  return {
    async open(transport: RuleTransport): Promise<RuleEndpoint> {
      const socket = sw.createSocket(transport === 'udp' ? sw.udpUrl : sw.wsUrl);
      const received: Uint8Array[] = [];
      socket.onMessage = (bytes) => received.push(bytes.slice());
      sw.deliver();
      return {
        transport,
        send: (bytes) => socket.send(bytes),
        async next(what: string): Promise<RelayDatagram> {
          sw.deliver();
          const bytes = received.shift();
          if (bytes === undefined) throw new Error(`memory switch: nothing arrived (${what})`);
          const decoded = decodeRelayDatagram(bytes);
          if (!decoded.ok) throw new Error(`${what}: undecodable: ${decoded.error}`);
          return decoded.value;
        },
      };
    },
    drops: () => sw.stats().drops,
    sessions: () => sw.stats().sessions,
  };
}

describe('MemorySwitch follows the relay rules (the shared case table)', () => {
  for (const rule of RELAY_RULE_CASES) {
    it(rule.name, async () => {
      const sw = new MemorySwitch({ seed: 13 });
      try {
        await rule.run(memoryDriver(sw));
      } finally {
        sw.dispose();
      }
    });
  }
});
