/** The relay core's session table: address lookups with one or several sessions on a port. */
import { expect } from 'chai';
import { SessionTable, type CoreSession } from '../../plugin/net/relay-core/session-table';

type Sess = CoreSession<null>;
let next = 1;
function session(ip: string, port: number): Sess {
  const low = next++;
  return {
    id: BigInt(low), idHigh: 0, idLow: low, secretHandle: low, nonce: 0n,
    transport: 'udp', ip, address: ip, port, connection: null, lastSeenMs: 0, datagramTokens: 0, byteTokens: 0, refilledAtMs: 0, inbound: null,
  };
}

describe('relay core session table: sessions by UDP address', () => {
  it('finds sessions sharing a port by address, unbinds the one whose address another takes, and keeps finding the rest as they leave', () => {
    const table = new SessionTable<Sess>(() => undefined);
    const a = session('10.0.0.1', 5000);
    const b = session('10.0.0.2', 5000);
    const c = session('10.0.0.3', 5000);
    for (const s of [a, b, c]) table.add(s);
    expect(table.findByAddress('10.0.0.1', 5000)).to.equal(a);
    expect(table.findByAddress('10.0.0.2', 5000)).to.equal(b);
    expect(table.findByAddress('10.0.0.3', 5000)).to.equal(c);
    expect(table.findByAddress('10.0.0.4', 5000)).to.equal(undefined);
    // A new session at b's address takes it; b keeps its id without an address.
    const b2 = session('10.0.0.2', 5000);
    table.add(b2);
    expect(table.findByAddress('10.0.0.2', 5000)).to.equal(b2);
    expect(b.address).to.equal(null);
    table.remove(a);
    table.remove(c);
    expect(table.findByAddress('10.0.0.2', 5000)).to.equal(b2);
    expect(table.findByAddress('10.0.0.1', 5000)).to.equal(undefined);
    // b rebinds elsewhere, b2 leaves: nothing left on the port.
    table.bind(b, '10.0.0.2', 6000);
    expect(table.findByAddress('10.0.0.2', 6000)).to.equal(b);
    table.remove(b2);
    expect(table.findByAddress('10.0.0.2', 5000)).to.equal(undefined);
    expect(table.size).to.equal(1);
  });

  it('a lone session on a port is replaced by a new one at the same address, and another address on that port joins it', () => {
    const table = new SessionTable<Sess>(() => undefined);
    const a = session('10.0.0.1', 7000);
    table.add(a);
    const a2 = session('10.0.0.1', 7000);
    table.add(a2);
    expect(a.address).to.equal(null);
    expect(table.findByAddress('10.0.0.1', 7000)).to.equal(a2);
    const other = session('10.0.0.9', 7000);
    table.add(other);
    expect(table.findByAddress('10.0.0.1', 7000)).to.equal(a2);
    expect(table.findByAddress('10.0.0.9', 7000)).to.equal(other);
    table.remove(a2);
    expect(table.findByAddress('10.0.0.9', 7000)).to.equal(other);
    expect(table.findByAddress('10.0.0.1', 7000)).to.equal(undefined);
  });
});
