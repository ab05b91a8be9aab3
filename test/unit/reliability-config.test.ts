import { expect } from 'chai';
import {
  ReliableConnection,
  defaultReliabilityConfig,
  validateReliabilityConfig,
} from '../../plugin/net/reliability';

describe('reliability config', () => {
  it('has the documented defaults, and they validate', () => {
    expect(defaultReliabilityConfig).to.deep.equal({
      maxPacketBytes: 1169,
      maxReliableMessageBytes: 1024 * 1024,
      maxUnreliableMessageBytes: 64 * 1024,
      maxPendingReliableBytes: 4 * 1024 * 1024,
      maxHeldBytes: 1024 * 1024,
      maxReassemblyBytes: 2 * 1024 * 1024 + 128 * 1024,
      keepaliveMs: 1000,
      timeoutMs: 10_000,
      initialRttMs: 100,
    });
    const checked = validateReliabilityConfig({});
    expect(checked).to.deep.equal({ ok: true, config: defaultReliabilityConfig });
  });

  it('fills the fields not given from the defaults', () => {
    const checked = validateReliabilityConfig({ maxPacketBytes: 500, keepaliveMs: 250 });
    expect(checked.ok).to.equal(true);
    if (checked.ok) expect(checked.config).to.deep.equal({ ...defaultReliabilityConfig, maxPacketBytes: 500, keepaliveMs: 250 });
  });

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['a packet too small for a fragment', { maxPacketBytes: 150 }, /^maxPacketBytes: expected an integer in 200\.\.65000, got 150$/],
    ['a fractional size', { maxReliableMessageBytes: 10.5 }, /^maxReliableMessageBytes: expected an integer/],
    ['a string', { timeoutMs: '10' }, /^timeoutMs: expected an integer in 1\.\.3600000, got "10"$/],
    ['NaN', { keepaliveMs: Number.NaN }, /^keepaliveMs: expected an integer/],
    ['a negative bound', { maxHeldBytes: -1 }, /^maxHeldBytes: expected an integer in 0\.\./],
    ['an unknown field', { mtu: 1200 }, /^mtu: unknown field/],
    ['reassembly smaller than one message of each kind', { maxReassemblyBytes: 1024 * 1024 }, /^maxReassemblyBytes: expected at least maxReliableMessageBytes \+ maxUnreliableMessageBytes \+ 128 = 1114240, got 1048576$/],
    ['a timeout not above the keepalive', { timeoutMs: 1000 }, /^timeoutMs: expected more than keepaliveMs \(1000\), got 1000$/],
  ];
  for (const [name, config, error] of refusals) {
    it(`refuses ${name}, naming the field`, () => {
      const checked = validateReliabilityConfig(config as never);
      expect(checked.ok).to.equal(false);
      if (!checked.ok) expect(checked.error).to.match(error);
    });
  }

  it('refuses a config that is not an object', () => {
    expect(validateReliabilityConfig(null as never)).to.deep.equal({ ok: false, error: 'config: expected an object' });
  });

  it('ReliableConnection refuses an invalid config with a RangeError naming the field', () => {
    expect(() => new ReliableConnection({ ...defaultReliabilityConfig, maxPacketBytes: 10 }, 0)).to.throw(RangeError, /maxPacketBytes/);
  });
});
