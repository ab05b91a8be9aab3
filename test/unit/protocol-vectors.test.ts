import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { verifyRelayToken } from '../../server';
import { protocolVector, protocolVectors } from '../helpers/protocol-vectors';

/**
 * PROTOCOL.md §7 is the written protocol's test data. The layer tests decode each family
 * (relay-codec, crypto-vectors, reliability-frames); this file makes sure no vector is left
 * unchecked and checks the token vectors, which belong to no codec of the client.
 */
const CHECKED_ELSEWHERE: Record<string, string> = {
  'relay-': 'test/unit/relay-codec.test.ts',
  'crypto-': 'test/unit/crypto-vectors.test.ts',
  'frame-': 'test/unit/reliability-frames.test.ts',
  'rtc-': 'test/unit/webrtc-codec.test.ts',
  'token-': 'this file',
  'fleet-': 'test/unit/fleet-datagram.test.ts',
};

describe('PROTOCOL.md test vectors', () => {
  it('every vector belongs to a family that a test decodes', () => {
    const names = [...protocolVectors().keys()];
    expect(names.length).to.be.greaterThan(20);
    for (const name of names) {
      const family = Object.keys(CHECKED_ELSEWHERE).find((prefix) => name.startsWith(prefix));
      expect(family, `vector ${name} is checked by no test`).to.not.equal(undefined);
    }
  });

  it('the relay token vector: tag = HMAC-SHA256(secret, label ‖ 0 ‖ payload), and the relay accepts it until expiry', () => {
    const payload = Buffer.from(protocolVector('token-payload'), 'hex');
    const tag = Buffer.from(protocolVector('token-tag'), 'hex');
    const mac = createHmac('sha256', '917ac6e92749faa0e55cecf5510ce251acb60553c479f6cc5e271ecd9f1420b6')
      .update(Buffer.concat([Buffer.from('switchboard/relay-token/v1'), Buffer.of(0), payload]))
      .digest();
    expect(mac.toString('hex')).to.equal(tag.toString('hex'));
    const token = `v1.${payload.toString('base64url')}.${tag.toString('base64url')}`;
    expect(verifyRelayToken('917ac6e92749faa0e55cecf5510ce251acb60553c479f6cc5e271ecd9f1420b6', token, 1_750_000_059)).to.equal('ok');
    expect(verifyRelayToken('917ac6e92749faa0e55cecf5510ce251acb60553c479f6cc5e271ecd9f1420b6', token, 1_750_000_060)).to.equal('expired');
  });
});
