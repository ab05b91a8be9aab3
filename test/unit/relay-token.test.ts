import { expect } from 'chai';
import fc from 'fast-check';
import { createRelayToken, generateRelaySecret, startRelay, verifyRelayToken } from '../../server';
import { startLobbyServer } from '../../server/lobby';
import { MAX_RELAY_TOKEN_LENGTH, relaySecretProblem } from '../../server/relay/token';
import { testRelaySecret } from '../helpers/secrets';

const secret = testRelaySecret('relay-token unit');
const now = 1_750_000_000;

describe('relay access tokens', () => {
  it('verifies a fresh token, and is text-safe and versioned', () => {
    const token = createRelayToken(secret, { ttlSeconds: 60, subject: 'player-7' }, now);
    expect(token).to.match(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyRelayToken(secret, token, now)).to.equal('ok');
    expect(verifyRelayToken(secret, token, now + 59)).to.equal('ok');
  });

  it('verifies the documented vector (PROTOCOL.md §7.4)', () => {
    const vector = 'v1.AQAAAABoTuG8AAECAwQFBgcICQoLDA0ODwVhbGljZQ.3Lxhhdez2ctT8Bebi8oFPjY8jwKXU-64qSTjV5hMo5s';
    expect(verifyRelayToken('917ac6e92749faa0e55cecf5510ce251acb60553c479f6cc5e271ecd9f1420b6', vector, 1_750_000_059)).to.equal('ok');
    expect(verifyRelayToken('917ac6e92749faa0e55cecf5510ce251acb60553c479f6cc5e271ecd9f1420b6', vector, 1_750_000_060)).to.equal('expired');
    expect(verifyRelayToken('917ac6e92749faa0e55cecf5510ce251acb60553c479f6cc5e271ecd9f1420b7', vector, 1_750_000_000)).to.equal('invalid');
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
    expect(verifyRelayToken(testRelaySecret('other'), token, now)).to.equal('invalid');
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

  describe('relay secret strength (issue 16.7)', () => {
    const weak: [string, string][] = [
      ['a word', 'relay-secret'],
      ['a passphrase', 'correct horse battery staple and then some more words'],
      ['31 bytes of hex', '5f0e3c9a1b2d4e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6'],
      ['24 bytes of base64url', 'q3Jk0vY1bP9xWmZ7cT2aLn8eRs4uHd6G'],
      ['all-same bytes as hex', '00'.repeat(32)],
      ['all-same characters as base64', 'A'.repeat(44)],
      ['a short block repeated', '0123456789abcdef'.repeat(4)],
      ['bytes counting up', Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('hex')],
      ['a lower-case-only word string', 'thisismysupersecretpasswordthatisverylongok'],
    ];
    for (const [what, text] of weak) {
      it(`refuses ${what}, saying what is required and how to get one`, () => {
        const problem = relaySecretProblem(text);
        expect(problem, text).to.be.a('string');
        expect(problem).to.contain('32 random bytes').and.contain('switchboard secret').and.contain('generateRelaySecret()');
        expect(() => createRelayToken(text, { ttlSeconds: 60 })).to.throw('32 random bytes');
        expect(() => verifyRelayToken(text, 'v1.a.b', now)).to.throw('32 random bytes');
      });
    }

    it('startRelay and startLobbyServer refuse a weak secret with that message', async () => {
      let relayError: unknown;
      await startRelay({ port: 0, secret: 'test-relay-secret', logger: { info: () => undefined, warn: () => undefined } }).then(
        (relay) => relay.close(),
        (error: unknown) => (relayError = error),
      );
      expect(String(relayError)).to.contain('relay option secret').and.contain('32 random bytes');
      let lobbyError: unknown;
      await startLobbyServer({ port: 0, relaySecret: 'lobby-test-secret', logger: { info: () => undefined, warn: () => undefined } }).then(
        (lobby) => lobby.close(),
        (error: unknown) => (lobbyError = error),
      );
      expect(String(lobbyError)).to.contain('relaySecret').and.contain('32 random bytes');
    });

    it('accepts 32 random bytes as hex, base64url and base64, and generateRelaySecret() gives fresh ones', () => {
      const bytes = Buffer.from(testRelaySecret('strength'), 'hex');
      for (const text of [bytes.toString('hex'), bytes.toString('hex').toUpperCase(), bytes.toString('base64url'), bytes.toString('base64')]) {
        expect(relaySecretProblem(text), text).to.equal(null);
      }
      const generated = Array.from({ length: 200 }, () => generateRelaySecret());
      expect(new Set(generated).size).to.equal(200);
      for (const text of generated) {
        expect(text).to.match(/^[A-Za-z0-9_-]{43}$/);
        expect(relaySecretProblem(text), text).to.equal(null);
        expect(verifyRelayToken(text, createRelayToken(text, { ttlSeconds: 60 }, now), now)).to.equal('ok');
      }
    });
  });
});
