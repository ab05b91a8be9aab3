/**
 * Inbound's two ways of planning a packet: the in-order one (whole reliable messages next in order
 * on open channels, nothing pending) and the general one (overlays, reassembly, held messages).
 * Each case here sits at the border between them: the same packet must give what the general
 * plan gives, refusals worded by it included.
 */
import { expect } from 'chai';
import { defaultReliabilityConfig } from '../../plugin/net/reliability/config';
import { MIN_FRAGMENT_BYTES } from '../../plugin/net/reliability/constants';
import type { DataFrame, FragmentFrame, MessageFrame } from '../../plugin/net/reliability/frames';
import { Inbound } from '../../plugin/net/reliability/inbound';

const MAX_UNDELIVERED = 4096;

function inbound(openChannels: number[] = [0, 1]): Inbound {
  const receiver = new Inbound(defaultReliabilityConfig, MAX_UNDELIVERED, 0);
  for (const id of openChannels) receiver.setChannel(id, true);
  receiver.setChannel(5, false);
  return receiver;
}

const message = (channelId: number, sequence: number, text: string, reliable = true): MessageFrame => ({
  type: 'message',
  channelId,
  reliable,
  sequence,
  data: new TextEncoder().encode(text),
});

const fragment = (channelId: number, sequence: number, index: number, count: number, text: string): FragmentFrame => ({
  type: 'fragment',
  channelId,
  reliable: true,
  sequence,
  fragmentIndex: index,
  fragmentCount: count,
  data: new TextEncoder().encode(text),
});

function receive(receiver: Inbound, frames: DataFrame[]): ReturnType<Inbound['plan']> {
  const planned = receiver.plan(frames);
  if (planned.ok) receiver.apply(planned.plan);
  return planned;
}

const texts = (receiver: Inbound) => receiver.takeDelivered().map((m) => `${m.channelId}:${new TextDecoder().decode(m.data)}`);

describe('reliability inbound: in-order packets and the general plan', () => {
  it('delivers whole in-order messages of several channels in frame order, as the frames\' own views (no copy)', () => {
    const receiver = inbound();
    const frames = [message(0, 0, 'a'), message(0, 1, 'b'), message(1, 0, 'x'), message(5, 0, 'u', false)];
    expect(receive(receiver, frames).ok).to.equal(true);
    const delivered = receiver.takeDelivered();
    expect(delivered.map((m) => m.data)).to.have.ordered.members(frames.map((f) => (f as MessageFrame).data));
    expect(delivered.map((m) => `${m.channelId}:${new TextDecoder().decode(m.data)}`)).to.deep.equal(['0:a', '0:b', '1:x', '5:u']);
    expect(receive(receiver, [message(0, 2, 'c'), message(1, 1, 'y')]).ok).to.equal(true);
    expect(texts(receiver)).to.deep.equal(['0:c', '1:y']);
  });

  it('a channel interleaved with another in one packet, a gap, a repeat and fragments all still arrive once, in order', () => {
    const receiver = inbound();
    expect(receive(receiver, [message(0, 0, 'a'), message(1, 0, 'x'), message(0, 1, 'b')]).ok).to.equal(true);
    expect(texts(receiver)).to.deep.equal(['0:a', '0:b', '1:x']);
    expect(receive(receiver, [message(0, 3, 'd')]).ok).to.equal(true); // a gap: held back
    expect(texts(receiver)).to.deep.equal([]);
    expect(receive(receiver, [message(0, 1, 'b')]).ok).to.equal(true); // a late repeat: ignored
    const first = 'C'.repeat(MIN_FRAGMENT_BYTES);
    expect(receive(receiver, [fragment(0, 2, 1, 2, 'end'), fragment(0, 2, 0, 2, first)]).ok).to.equal(true);
    expect(texts(receiver)).to.deep.equal([`0:${first}end`, '0:d']);
    expect(receive(receiver, [message(0, 4, 'e')]).ok).to.equal(true); // nothing pending again
    expect(texts(receiver)).to.deep.equal(['0:e']);
  });

  it('holds messages for a channel the local side has not opened, and hands them over when it opens', () => {
    const receiver = inbound([0]);
    expect(receive(receiver, [message(0, 0, 'a'), message(2, 0, 'h')]).ok).to.equal(true);
    expect(texts(receiver)).to.deep.equal(['0:a']);
    expect(receiver.heldBytes).to.equal(1);
    receiver.setChannel(2, true);
    expect(texts(receiver)).to.deep.equal(['2:h']);
  });

  it('refuses an in-order packet over the undelivered bound as the general plan words it, changing nothing', () => {
    const receiver = inbound();
    expect(receive(receiver, [message(0, 0, 'x'.repeat(3000))]).ok).to.equal(true);
    const refused = receive(receiver, [message(0, 1, 'y'.repeat(3000))]);
    expect(refused.ok).to.equal(false);
    if (refused.ok) return;
    expect(refused.capacity).to.equal(true);
    expect(refused.error).to.match(/^undelivered bound: /);
    expect(texts(receiver)).to.have.length(1);
    // Nothing of the refused packet stayed: its resend is in order once the application drained.
    expect(receive(receiver, [message(0, 1, 'y')]).ok).to.equal(true);
    expect(texts(receiver)).to.deep.equal(['0:y']);
  });

  it('refuses a bad frame after good ones with the general plan\'s error, storing none of the packet', () => {
    const receiver = inbound();
    const tooBig = message(1, 0, '');
    tooBig.data = new Uint8Array(defaultReliabilityConfig.maxReliableMessageBytes + 1);
    const refused = receive(receiver, [message(0, 0, 'a'), tooBig]);
    expect(refused.ok).to.equal(false);
    if (!refused.ok) expect(refused.error).to.match(/^channel 1 reliable sequence 0: \d+ bytes, above/);
    expect(texts(receiver)).to.deep.equal([]);
    expect(receive(receiver, [message(0, 0, 'a')]).ok).to.equal(true);
    expect(texts(receiver)).to.deep.equal(['0:a']);
  });
});
