import { expect } from 'chai';
import fc from 'fast-check';
import { createRelayToken, verifyRelayToken } from '../../server';
import { MAX_RELAY_TOKEN_LENGTH } from '../../server/relay/token';

const secret = 'relay-secret';
const now = 1_750_000_000;

describe('relay access tokens', () => {
  it('verifies a fresh token, and is text-safe and versioned', () => {
    const token = createRelayToken(secret, { ttlSeconds: 60, subject: 'player-7' }, now);
    expect(token).to.match(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyRelayToken(secret, token, now)).to.equal('ok');
    expect(verifyRelayToken(secret, token, now + 59)).to.equal('ok');
  });

  it('verifies the documented vector (PROTOCOL.md §7.4)', () => {
    const vector = 'v1.AQAAAABoTuG8AAECAwQFBgcICQoLDA0ODwVhbGljZQ.AkRz0mVHC0ZIVLcqU1ZDJeC9Pk6dVEIEjEjWcYjIKwQ';
    expect(verifyRelayToken('switchboard-test-secret', vector, 1_750_000_059)).to.equal('ok');
    expect(verifyRelayToken('switchboard-test-secret', vector, 1_750_000_060)).to.equal('expired');
    expect(verifyRelayToken('switchboard-test-secreT', vector, 1_750_000_000)).to.equal('invalid');
  });

  it('expires at the expiry second', () => {
    const token = createRelayToken(secret, { ttlSeconds: 60 }, now);
    expect(verifyRelayToken(secret, token, now + 60)).to.equal('expired');
    expect(verifyRelayToken(secret, token, now + 10_000)).to.equal('expired');
  });

  it('says missing for no token, invalid for another secret, tampering and junk', () => {
    const token = createRelayToken(secret, { ttlSeconds: 60 }, now);
    expect(verifyRelayToken(secret, undefined, now)).to.equal('missing');
    expect(verifyRelayToken(secret, '', now)).to.equal('missing');
    expect(verifyRelayToken('other-secret', token, now)).to.equal('invalid');
    for (let i = 3; i < token.length; i++) {
      const flipped = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
      // A change in the last character of a part may only touch unused base64 bits: still refused (non-canonical).
      expect(verifyRelayToken(secret, flipped, now), `flip at ${i}`).to.equal('invalid');
    }
    for (const junk of ['v1.', 'v1..', 'v2.a.b', 'nonsense', `${token}.x`, token.replace('v1.', 'v1.=')]) {
      expect(verifyRelayToken(secret, junk, now), junk).to.equal('invalid');
    }
    expect(verifyRelayToken(secret, 'v1.' + 'A'.repeat(MAX_RELAY_TOKEN_LENGTH), now)).to.equal('invalid');
  });

  it('gives a different token every time (random nonce), each valid', () => {
    const a = createRelayToken(secret, { ttlSeconds: 60 }, now);
    const b = createRelayToken(secret, { ttlSeconds: 60 }, now);
    expect(a).to.not.equal(b);
    expect([verifyRelayToken(secret, a, now), verifyRelayToken(secret, b, now)]).to.deep.equal(['ok', 'ok']);
  });

  it('stays within the 1024-byte REGISTER token limit with the longest subject', () => {
    const token = createRelayToken(secret, { ttlSeconds: 3600, subject: 'é'.repeat(127) }, now);
    expect(token.length).to.be.at.most(MAX_RELAY_TOKEN_LENGTH);
    expect(verifyRelayToken(secret, token, now)).to.equal('ok');
  });

  it('refuses bad secrets and claims with clear errors', () => {
    expect(() => createRelayToken('', { ttlSeconds: 60 })).to.throw('secret');
    expect(() => createRelayToken(secret, { ttlSeconds: 0 })).to.throw('ttlSeconds');
    expect(() => createRelayToken(secret, { ttlSeconds: 1.5 })).to.throw('ttlSeconds');
    expect(() => createRelayToken(secret, { ttlSeconds: 60, subject: 'x'.repeat(256) })).to.throw('subject');
    expect(() => verifyRelayToken('', 'v1.a.b', now)).to.throw('secret');
  });

  it('never throws on arbitrary strings (fuzz)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 1100 }).map((codes) => String.fromCharCode(...codes)), (text) => {
        expect(['missing', 'invalid']).to.include(verifyRelayToken(secret, text, now));
        expect(['missing', 'invalid']).to.include(verifyRelayToken(secret, `v1.${text}`, now));
      }),
      { seed: 99, numRuns: 1000 },
    );
  });
});
