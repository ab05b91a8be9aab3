import { expect } from 'chai';
import { ConditionedSocket, validateLinkConditioner } from '../../plugin/net/transport/conditioned-socket';
import type { DatagramSocket } from '../../plugin/net/transport/datagram-socket';
import type { LinkConditioner } from '../../plugin/net/types';
import { waitFor } from '../helpers/wait';

/** The far side of the conditioner in these unit tests: records what reaches the link. */
class RecordingSocket implements DatagramSocket {
  onOpen: (() => void) | null = null;
  onMessage: ((datagram: Uint8Array) => void) | null = null;
  onClose: ((reason: string) => void) | null = null;
  readonly sent: number[] = [];
  closed = false;
  send(datagram: Uint8Array): void {
    this.sent.push(new DataView(datagram.buffer, datagram.byteOffset).getUint32(0));
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function numbered(i: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setUint32(0, i);
  return bytes;
}

/** Sends 0..count-1 through a conditioner and waits until nothing is queued; returns what reached the link. */
async function run(conditioner: LinkConditioner, count = 500): Promise<{ sent: number[]; socket: ConditionedSocket }> {
  const inner = new RecordingSocket();
  const socket = new ConditionedSocket(inner, conditioner);
  for (let i = 0; i < count; i++) socket.send(numbered(i));
  await waitFor('the conditioner to release every queued datagram', () => socket.queuedDatagrams() === 0, { timeoutMs: 5000 });
  await socket.close();
  return { sent: inner.sent, socket };
}

describe('link conditioner (ConditionedSocket)', () => {
  it('passes everything through, in order and at once, with no impairment', async () => {
    const inner = new RecordingSocket();
    const socket = new ConditionedSocket(inner, {});
    for (let i = 0; i < 50; i++) socket.send(numbered(i));
    expect(inner.sent).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
    await socket.close();
    expect(inner.closed).to.equal(true);
  });

  it('loses datagrams deterministically: same seed, same losses; another seed, other losses', async () => {
    const first = await run({ lossRate: 0.3, seed: 7 });
    const again = await run({ lossRate: 0.3, seed: 7 });
    const other = await run({ lossRate: 0.3, seed: 8 });
    expect(first.sent).to.deep.equal(again.sent);
    expect(first.sent).to.not.deep.equal(other.sent);
    expect(first.sent.length).to.be.within(500 * 0.6, 500 * 0.8);
    expect(first.socket.conditionerStats().lost).to.equal(500 - first.sent.length);
  });

  it('duplicates deterministically, each copy right after the original', async () => {
    const first = await run({ duplicateRate: 0.2, seed: 11 });
    const again = await run({ duplicateRate: 0.2, seed: 11 });
    expect(first.sent).to.deep.equal(again.sent);
    const duplicated = first.socket.conditionerStats().duplicated;
    expect(duplicated).to.be.within(50, 150);
    expect(first.sent.length).to.equal(500 + duplicated);
    expect([...new Set(first.sent)]).to.deep.equal(Array.from({ length: 500 }, (_, i) => i));
    expect(first.sent.filter((value, i) => i > 0 && first.sent[i - 1] === value)).to.have.length(duplicated);
  });

  it('reorders deterministically and loses nothing', async () => {
    const first = await run({ reorderRate: 0.2, seed: 3 });
    const again = await run({ reorderRate: 0.2, seed: 3 });
    expect(first.sent).to.deep.equal(again.sent);
    expect(first.sent).to.not.deep.equal(Array.from({ length: 500 }, (_, i) => i));
    expect([...first.sent].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 500 }, (_, i) => i));
    expect(first.socket.conditionerStats().reordered).to.be.greaterThan(0);
  });

  it('releases a held datagram when no other one follows', async () => {
    const { sent } = await run({ reorderRate: 1, seed: 1 }, 1);
    expect(sent).to.deep.equal([0]);
  });

  it('delays with latency, keeping order without jitter, and delivers everything with jitter', async () => {
    const delayed = await run({ latencyMs: 5 }, 100);
    expect(delayed.sent).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    const jittered = await run({ latencyMs: 2, jitterMs: 10, seed: 5 }, 100);
    expect([...jittered.sent].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
  });

  it('bounds its queue and clears its timers on close', async () => {
    const inner = new RecordingSocket();
    const socket = new ConditionedSocket(inner, { latencyMs: 5000 }, undefined, 5);
    for (let i = 0; i < 10; i++) socket.send(numbered(i));
    expect(socket.queuedDatagrams()).to.equal(5);
    expect(socket.conditionerStats().overflowed).to.equal(5);
    await socket.close();
    expect(socket.queuedDatagrams()).to.equal(0);
    expect(inner.sent).to.deep.equal([]);
    socket.send(numbered(99));
    expect(socket.queuedDatagrams()).to.equal(0);
  });

  it('validates its settings with messages naming the field', () => {
    expect(validateLinkConditioner({ lossRate: 0.5, latencyMs: 20, seed: 1 })).to.equal(null);
    expect(validateLinkConditioner({ lossRate: 1.5 })).to.contain('lossRate');
    expect(validateLinkConditioner({ jitterMs: -1 })).to.contain('jitterMs');
    expect(validateLinkConditioner({ seed: 0.5 })).to.contain('seed');
    expect(validateLinkConditioner({ duplicateRate: Number.NaN })).to.contain('duplicateRate');
    expect(() => new ConditionedSocket(new RecordingSocket(), { reorderRate: 2 })).to.throw('reorderRate');
  });
});
