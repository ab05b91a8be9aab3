/** FLEET_DATA (PROTOCOL.md §3.13): batches of records, the tag, and the in-place rewrite into client deliveries. */
import { expect } from 'chai';
import {
  FLEET_BATCH_BYTES,
  FleetBatch,
  MAX_FLEET_DATAGRAM_BYTES,
  encodeFleetData,
  fleetLinkKey,
  fleetTagValid,
  forEachFleetRecord,
  readFleetHeader,
} from '../../server/fleet/fleet-datagram';
import { decodeRelayDatagram, encodeData, sessionIdToBytes } from '../../plugin/net/wire/relay-codec';
import { protocolVector } from '../helpers/protocol-vectors';
import { testRelaySecret } from '../helpers/secrets';

const key = fleetLinkKey(testRelaySecret('fleet datagram'));
const sender = { relayNumber: 7, incarnation: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) };

function records(bytes: Uint8Array): Array<{ destination: bigint; source: bigint; payload: number[] }> {
  const out: Array<{ destination: bigint; source: bigint; payload: number[] }> = [];
  const ok = forEachFleetRecord(bytes, (high, low, sourceLow, delivery) => {
    const decoded = decodeRelayDatagram(delivery);
    if (!decoded.ok || decoded.value.kind !== 'delivery') throw new Error('not a delivery');
    expect(Number(decoded.value.source & 0xffffffffn)).to.equal(sourceLow);
    out.push({ destination: (BigInt(high) << 32n) | BigInt(low), source: decoded.value.source, payload: [...decoded.value.payload] });
  });
  if (!ok) throw new Error('records refused');
  return out;
}

describe('FLEET_DATA codec', () => {
  it('carries several client datagrams in one batch and turns each into the 0x83 delivery stamped with its source', () => {
    const batch = new FleetBatch(sender);
    for (let i = 1; i <= 3; i++) expect(batch.append(encodeData((9n << 52n) | BigInt(i), Uint8Array.of(i, i)), sessionIdToBytes((7n << 52n) | BigInt(100 + i)))).to.equal(true);
    const sealed = Buffer.from(batch.seal(key, 41));
    expect(readFleetHeader(sealed)).to.deep.include({ relayNumber: 7, counter: 41 });
    expect(fleetTagValid(key, sealed)).to.equal(true);
    expect(records(sealed)).to.deep.equal([1, 2, 3].map((i) => ({ destination: (9n << 52n) | BigInt(i), source: (7n << 52n) | BigInt(100 + i), payload: [i, i] })));
  });

  it('stops a batch at 1,472 bytes, but carries one longest client datagram alone', () => {
    const batch = new FleetBatch(sender);
    const data = encodeData(5n, new Uint8Array(400));
    let appended = 0;
    while (batch.append(data, sessionIdToBytes(6n))) appended++;
    expect(appended).to.equal(3);
    expect(batch.seal(key, 0).length).to.be.at.most(FLEET_BATCH_BYTES);
    const alone = new FleetBatch(sender);
    expect(alone.append(encodeData(5n, new Uint8Array(1491)), sessionIdToBytes(6n))).to.equal(true);
    expect(alone.seal(key, 1).length).to.equal(MAX_FLEET_DATAGRAM_BYTES);
    expect(() => new FleetBatch(sender).append(encodeData(5n, new Uint8Array(1492)), sessionIdToBytes(6n))).to.throw(RangeError, /1\.\.1491/);
  });

  it('refuses a wrong key, any flipped bit, other types and versions, and impossible lengths', () => {
    const good = encodeFleetData(key, sender, 3, encodeData(5n, Uint8Array.of(1, 2, 3)), sessionIdToBytes(6n));
    expect(fleetTagValid(fleetLinkKey(testRelaySecret('another fleet')), good)).to.equal(false);
    for (let bit = 0; bit < good.length * 8; bit += 13) {
      const flipped = Buffer.from(good);
      flipped[bit >> 3] ^= 1 << (bit & 7);
      expect(readFleetHeader(flipped) !== null && fleetTagValid(key, flipped), `bit ${bit}`).to.equal(false);
    }
    expect(readFleetHeader(good.subarray(0, 54))).to.equal(null);
    expect(readFleetHeader(Buffer.alloc(MAX_FLEET_DATAGRAM_BYTES + 1, 0x20))).to.equal(null);
    const otherVersion = Buffer.from(good);
    otherVersion[1] = 2;
    expect(readFleetHeader(otherVersion)).to.equal(null);
  });

  it('delivers nothing from records that do not fill the datagram exactly', () => {
    const good = encodeFleetData(key, sender, 3, encodeData(5n, Uint8Array.of(1, 2, 3)), sessionIdToBytes(6n));
    for (const length of [0, 2, 4, 200]) {
      const bad = Buffer.from(good);
      bad.writeUInt16BE(length, 20);
      let visited = 0;
      expect(forEachFleetRecord(bad, () => visited++), `length ${length}`).to.equal(false);
      expect(visited).to.equal(0);
    }
  });

  it('matches the PROTOCOL.md §7.6 vector byte for byte, and decodes it', () => {
    const vectorKey = fleetLinkKey('917ac6e92749faa0e55cecf5510ce251acb60553c479f6cc5e271ecd9f1420b6');
    expect(vectorKey.toString('hex')).to.equal(protocolVector('fleet-link-key'));
    const batch = new FleetBatch({ relayNumber: 17, incarnation: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) });
    batch.append(encodeData(0x8fd0000000000001n, new TextEncoder().encode('abc')), sessionIdToBytes(0x0110000000000002n));
    batch.append(encodeData(0x8fd0000000000003n, new TextEncoder().encode('de')), sessionIdToBytes(0x0110000000000004n));
    const sealed = Buffer.from(batch.seal(vectorKey, 5));
    expect(sealed.toString('hex')).to.equal(protocolVector('fleet-data'));
    expect(fleetTagValid(vectorKey, sealed)).to.equal(true);
    expect(readFleetHeader(sealed)).to.deep.include({ relayNumber: 17, counter: 5 });
    expect(records(sealed)).to.deep.equal([
      { destination: 0x8fd0000000000001n, source: 0x0110000000000002n, payload: [0x61, 0x62, 0x63] },
      { destination: 0x8fd0000000000003n, source: 0x0110000000000004n, payload: [0x64, 0x65] },
    ]);
  });
});

