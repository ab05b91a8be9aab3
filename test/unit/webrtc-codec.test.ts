import { protocolVector } from '../helpers/protocol-vectors';
import { expect } from 'chai';
import fc from 'fast-check';
import { sanitizeOffer } from '../../server/relay/webrtc';
import { stripOfferCandidates } from '../../plugin/net/transport/webrtc-socket';
import { fromHex, toHex } from '../../plugin/net/wire';
import {
  MAX_RTC_DETAIL_BYTES,
  MAX_RTC_OFFER_BYTES,
  MAX_SDP_BYTES,
  RTC_CLOSE_BYTES,
  RtcAnswerStatus,
  RtcSignalType,
  decodeRelayDatagram,
  decodeRtcSignal,
  encodeRtcAnswer,
  encodeRtcClose,
  encodeRtcOffer,
  isRtcSignalType,
  type RtcSignalDatagram,
} from '../../plugin/net/wire/relay-codec';

const session = 0x0123456789abcdefn;
const attempt = 0x01020304;

/** The vectors of PROTOCOL.md §7.5. */
const VECTORS: { name: string; hex: string; value: RtcSignalDatagram }[] = [
  { name: 'RTC_OFFER', hex: protocolVector('rtc-offer'), value: { kind: 'rtcOffer', sessionId: session, attempt, sdp: 'v=0\r\n' } },
  { name: 'RTC_CLOSE', hex: protocolVector('rtc-close'), value: { kind: 'rtcClose', sessionId: session, attempt } },
  {
    name: 'RTC_ANSWER accepted',
    hex: protocolVector('rtc-answer'),
    value: { kind: 'rtcAnswer', sessionId: session, attempt, status: RtcAnswerStatus.Accepted, text: 'v=0\r\n' },
  },
  {
    name: 'RTC_ANSWER busy',
    hex: protocolVector('rtc-answer-busy'),
    value: { kind: 'rtcAnswer', sessionId: session, attempt, status: RtcAnswerStatus.Busy, text: 'busy' },
  },
];

function bytesOf(hex: string): Uint8Array {
  const bytes = fromHex(hex.replace(/\s+/g, ''));
  if (bytes === null) throw new Error(`bad hex ${hex}`);
  return bytes;
}

function encode(value: RtcSignalDatagram): Uint8Array {
  switch (value.kind) {
    case 'rtcOffer':
      return encodeRtcOffer(value.sessionId, value.attempt, value.sdp);
    case 'rtcClose':
      return encodeRtcClose(value.sessionId, value.attempt);
    case 'rtcAnswer':
      return encodeRtcAnswer(value.sessionId, value.attempt, value.status, value.text);
  }
}

function refusedWith(bytes: Uint8Array, fragment: string): void {
  const result = decodeRtcSignal(bytes);
  expect(result.ok, `expected a refusal mentioning "${fragment}"`).to.equal(false);
  if (!result.ok) expect(result.error).to.contain(fragment);
}

describe('WebRTC signalling codec (PROTOCOL.md §3.12)', () => {
  for (const vector of VECTORS) {
    it(`encodes and decodes the ${vector.name} vector`, () => {
      const bytes = bytesOf(vector.hex);
      expect(toHex(encode(vector.value))).to.equal(toHex(bytes));
      const decoded = decodeRtcSignal(bytes);
      expect(decoded.ok && decoded.value).to.deep.equal(vector.value);
    });
  }

  it('refuses every truncation and a trailing byte of every vector', () => {
    for (const vector of VECTORS) {
      const bytes = bytesOf(vector.hex);
      for (let length = 0; length < bytes.length; length++) {
        expect(decodeRtcSignal(bytes.subarray(0, length)).ok, `${vector.name} cut to ${length}`).to.equal(false);
      }
      const longer = new Uint8Array(bytes.length + 1);
      longer.set(bytes);
      refusedWith(longer, 'trailing');
    }
  });

  it('keeps the SDP within 1..4096 bytes and a refusal detail within 255', () => {
    expect(decodeRtcSignal(encodeRtcOffer(session, 1, 'x'.repeat(MAX_SDP_BYTES))).ok).to.equal(true);
    expect(encodeRtcOffer(session, 1, 'x'.repeat(MAX_SDP_BYTES)).length).to.equal(MAX_RTC_OFFER_BYTES);
    expect(() => encodeRtcOffer(session, 1, '')).to.throw(RangeError);
    expect(() => encodeRtcOffer(session, 1, 'x'.repeat(MAX_SDP_BYTES + 1))).to.throw(RangeError);
    expect(() => encodeRtcAnswer(session, 1, RtcAnswerStatus.Accepted, '')).to.throw(RangeError);
    // Hand-made: an offer claiming 4097 bytes, an empty offer, a long refusal detail.
    const header = [RtcSignalType.Offer, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1];
    refusedWith(Uint8Array.of(...header, 0x10, 0x01, ...new Uint8Array(4097)), 'outside 1..4096');
    refusedWith(Uint8Array.of(...header, 0, 0), 'outside 1..4096');
    const longDetail = Uint8Array.of(RtcSignalType.Answer, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, RtcAnswerStatus.Refused, 1, 0, ...new Uint8Array(256).fill(0x61));
    refusedWith(longDetail, 'outside 0..255');
    // The encoder cuts a long detail at a character boundary instead.
    const cut = decodeRtcSignal(encodeRtcAnswer(session, 1, RtcAnswerStatus.Refused, `${'a'.repeat(254)}€`));
    expect(cut.ok && cut.value.kind === 'rtcAnswer' && cut.value.text).to.equal('a'.repeat(254));
    const empty = decodeRtcSignal(encodeRtcAnswer(session, 1, RtcAnswerStatus.Unavailable, ''));
    expect(empty.ok && empty.value.kind === 'rtcAnswer' && empty.value.text).to.equal('');
    expect(encodeRtcAnswer(session, 1, RtcAnswerStatus.Failed, 'y'.repeat(1000)).length).to.equal(16 + MAX_RTC_DETAIL_BYTES);
  });

  it('refuses bad UTF-8, unknown types, and values out of range on encode', () => {
    refusedWith(Uint8Array.of(RtcSignalType.Offer, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0, 2, 0xc3, 0x28), 'not UTF-8');
    refusedWith(Uint8Array.of(0x12, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1), 'unknown type 0x12');
    refusedWith(new Uint8Array(0), 'empty');
    refusedWith(new Uint8Array(MAX_RTC_OFFER_BYTES + 100).fill(RtcSignalType.Offer), 'too long');
    expect(() => encodeRtcClose(session, -1)).to.throw(RangeError);
    expect(() => encodeRtcClose(session, 2 ** 32)).to.throw(RangeError);
    expect(() => encodeRtcClose(-1n, 1)).to.throw(RangeError);
    expect(() => encodeRtcAnswer(session, 1, 256, 'x')).to.throw(RangeError);
    expect(encodeRtcClose(session, 0).length).to.equal(RTC_CLOSE_BYTES);
  });

  it('leaves the §3 decoder as it was: signalling types are not relay datagrams there', () => {
    for (const type of [RtcSignalType.Offer, RtcSignalType.Close, RtcSignalType.Answer]) {
      expect(isRtcSignalType(type)).to.equal(true);
      expect(decodeRelayDatagram(Uint8Array.of(type)).ok).to.equal(false);
    }
    for (const type of [0x01, 0x03, 0x05, 0x83, 0x91]) expect(isRtcSignalType(type)).to.equal(false);
  });

  it('never throws on random input (fuzz), and what decodes re-encodes to the same bytes', () => {
    const typed = fc
      .tuple(fc.constantFrom(RtcSignalType.Offer, RtcSignalType.Close, RtcSignalType.Answer, 0x00, 0xff), fc.uint8Array({ maxLength: 300 }))
      .map(([type, rest]) => Uint8Array.of(type, ...rest));
    const nearValid = fc
      .tuple(fc.constantFrom(...VECTORS.map((v) => bytesOf(v.hex))), fc.nat(40), fc.nat(255))
      .map(([bytes, at, value]) => {
        const copy = bytes.slice();
        copy[at % copy.length] = value;
        return copy;
      });
    fc.assert(
      fc.property(fc.oneof(typed, nearValid, fc.uint8Array({ maxLength: 64 })), (bytes) => {
        const result = decodeRtcSignal(bytes);
        decodeRelayDatagram(bytes);
        if (result.ok) expect(toHex(encode(result.value))).to.equal(toHex(bytes));
      }),
      { seed: 20261124, numRuns: 3000 },
    );
  });
});

describe('offer SDP handling', () => {
  const chromeOffer = [
    'v=0',
    'o=- 8147982932622068279 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'm=application 55462 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 192.0.2.2',
    'a=candidate:2375069431 1 udp 2113937151 192.0.2.2 55462 typ host generation 0 network-cost 999',
    'a=ice-ufrag:F+cH',
    'a=ice-pwd:qlolwhvWuPfm0CC54G4MEgc/',
    'a=fingerprint:sha-256 75:CC:2B:A9',
    'a=setup:actpass',
    'a=mid:0',
    'a=sctp-port:5000',
    'a=end-of-candidates',
    '',
  ].join('\r\n');

  it('the client sends no candidate and no address of its own', () => {
    const stripped = stripOfferCandidates(chromeOffer);
    expect(stripped).to.not.contain('192.0.2.2');
    expect(stripped).to.not.contain('a=candidate');
    expect(stripped).to.contain('m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n');
    expect(stripped).to.contain('a=ice-ufrag:F+cH\r\n');
  });

  it('the relay drops candidates it was given and refuses media other than one data channel', () => {
    const sanitized = sanitizeOffer(chromeOffer.replace('192.0.2.2 55462 typ host', '8.8.8.8 53 typ host'));
    expect(sanitized.ok).to.equal(true);
    if (sanitized.ok) {
      expect(sanitized.sdp).to.not.contain('a=candidate');
      expect(sanitized.sdp).to.not.contain('8.8.8.8');
    }
    const audio = sanitizeOffer(`${chromeOffer}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n`);
    expect(!audio.ok && audio.error).to.contain('media other than a data channel');
    const twice = sanitizeOffer(`${chromeOffer}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n`);
    expect(!twice.ok && twice.error).to.contain('2 data sections');
    const none = sanitizeOffer('v=0\r\ns=-\r\n');
    expect(!none.ok && none.error).to.contain('0 data sections');
    expect(sanitizeOffer('hello').ok).to.equal(false);
  });
});
