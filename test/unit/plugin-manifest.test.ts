import { expect } from 'chai';
import manifestJson from '../../plugin.json';
import { bundledPluginManifest, loadPluginManifest, PluginConfigError, resolvePluginConfig, type PluginManifest } from '../../plugin/manifest';
import { parseVersion, parseVersionRange, satisfies } from '../../plugin/manifest/semver-range';

function manifestWith(change: (m: Record<string, unknown> & { config: Record<string, unknown> }) => void): unknown {
  const copy = structuredClone(manifestJson) as unknown as Record<string, unknown> & { config: Record<string, unknown> };
  change(copy);
  return copy;
}

function issuesOf(action: () => unknown): readonly string[] {
  try {
    action();
  } catch (error) {
    expect(error).to.be.instanceOf(PluginConfigError);
    return (error as PluginConfigError).issues;
  }
  throw new Error('expected a PluginConfigError');
}

describe('plugin manifest (plugin.json)', () => {
  it('the repository plugin.json loads and carries the documented defaults', () => {
    const manifest = bundledPluginManifest();
    expect(manifest.name).to.equal('switchboard');
    expect(manifest.engine).to.be.a('string');
    expect(manifest.systems.map((s) => [s.name, s.phase])).to.deep.include.members([
      ['switchboard.receive', 'early-update'],
      ['switchboard.flush', 'late-update'],
    ]);
    expect(manifest.config).to.deep.equal({
      relay: 'ws://127.0.0.1:7777',
      token: null,
      channels: [{ id: 0, reliable: true }, { id: 1, reliable: false }],
      sendRateHz: 20,
      mtuBytes: 1200,
      transformChannel: 1,
      interpolationDelayMs: 100,
      snapAfterGapMs: 1000,
    });
  });

  it('the engine range accepts the installed @babylonjs/core', async () => {
    const { AbstractEngine } = await import('@babylonjs/core/Engines/abstractEngine.js');
    const range = parseVersionRange(bundledPluginManifest().engine);
    expect(range).to.not.equal(null);
    expect(satisfies(parseVersion(AbstractEngine.Version)!, range!)).to.equal(true);
  });

  it('a missing field is named', () => {
    const issues = issuesOf(() => loadPluginManifest(manifestWith((m) => delete m.version)));
    expect(issues).to.deep.equal(['version: expected a version MAJOR.MINOR.PATCH, got nothing']);
  });

  it('a wrong type is named with what was expected', () => {
    const issues = issuesOf(() => loadPluginManifest(manifestWith((m) => (m.config.sendRateHz = '20'))));
    expect(issues).to.deep.equal(['config.sendRateHz: expected an integer 1..120, got "20"']);
  });

  it('an unknown system phase is named', () => {
    const issues = issuesOf(() =>
      loadPluginManifest(manifestWith((m) => ((m.systems as { phase: string }[])[1]!.phase = 'post-render'))),
    );
    expect(issues).to.deep.equal([`systems[1].phase: expected one of 'early-update', 'update', 'late-update', got "post-render"`]);
  });

  it('a channel id out of range names the exact entry', () => {
    const issues = issuesOf(() => loadPluginManifest(manifestWith((m) => ((m.config.channels as { id: number }[])[1]!.id = 200))));
    expect(issues).to.include('config.channels[1].id: expected an integer 0..127, got 200');
  });

  it('reports every problem at once, and the message lists them', () => {
    try {
      loadPluginManifest(manifestWith((m) => {
        m.name = 7;
        m.extra = true;
        (m.components as unknown[]).push({ name: 'X', scope: 'world' });
        m.config.relay = 'http://nope';
      }));
      expect.fail('expected an error');
    } catch (error) {
      const e = error as PluginConfigError;
      expect(e.issues).to.have.length(4);
      expect(e.message).to.contain('plugin.json is invalid');
      expect(e.message).to.contain(`components[2].scope: expected one of 'scene', 'node', got "world"`);
      expect(e.message).to.contain('extra: unknown field');
      expect(e.message).to.contain('config.relay:');
      expect(e.message).to.contain('name:');
    }
  });

  it('refuses a root that is not an object and a bad engine range', () => {
    expect(issuesOf(() => loadPluginManifest([]))).to.deep.equal(['(root): expected an object, got an array of 0']);
    expect(issuesOf(() => loadPluginManifest(manifestWith((m) => (m.engine = 'latest'))))[0]).to.match(/^engine: expected a semver range/);
  });

  it('duplicate channel ids and system names are refused', () => {
    const issues = issuesOf(() =>
      loadPluginManifest(manifestWith((m) => {
        (m.config.channels as unknown[]).push({ id: 0, reliable: false });
        (m.systems as unknown[]).push({ name: 'switchboard.flush', phase: 'late-update', order: 5 });
      })),
    );
    expect(issues).to.include('config.channels[2].id: expected a channel id not listed before, got 0 again');
    expect(issues).to.include(`systems[4].name: expected a name not listed before, got "switchboard.flush" again`);
  });

  it('the transform channel must be a configured unreliable channel', () => {
    const issues = issuesOf(() => loadPluginManifest(manifestWith((m) => (m.config.transformChannel = 0))));
    expect(issues).to.deep.equal(['config.transformChannel: expected the id of an unreliable channel in config.channels, got 0 (a reliable channel)']);
  });

  describe('resolvePluginConfig', () => {
    const manifest: PluginManifest = bundledPluginManifest();

    it('lays overrides over the defaults without touching the manifest', () => {
      const config = resolvePluginConfig(manifest, { relay: 'udp://127.0.0.1:4000', token: 'abc', sendRateHz: 30 });
      expect(config.relay).to.equal('udp://127.0.0.1:4000');
      expect(config.token).to.equal('abc');
      expect(config.sendRateHz).to.equal(30);
      expect(config.channels).to.deep.equal(manifest.config.channels);
      config.channels.push({ id: 9, reliable: true });
      expect(manifest.config.channels).to.have.length(2);
    });

    it('names a bad override and an unknown one', () => {
      const issues = issuesOf(() => resolvePluginConfig(manifest, { sendRate: 5, mtuBytes: 99999 }));
      expect(issues).to.include('config.mtuBytes: expected an integer 256..1472, got 99999');
      expect(issues.some((i) => i.startsWith('config.sendRate: unknown field'))).to.equal(true);
    });

    it('checks cross-field rules on the merged result', () => {
      const issues = issuesOf(() => resolvePluginConfig(manifest, { channels: [{ id: 0, reliable: true }] }));
      expect(issues).to.deep.equal(['config.transformChannel: expected the id of an unreliable channel in config.channels, got 1 (not in config.channels)']);
    });

    it('takes a relay list (a fleet) and names a bad entry of one', () => {
      const list = ['ws://127.0.0.1:4000', 'ws://127.0.0.1:4001'];
      expect(resolvePluginConfig(manifest, { relay: list }).relay).to.deep.equal(list);
      expect(issuesOf(() => resolvePluginConfig(manifest, { relay: [] }))).to.deep.equal(['config.relay: expected a list of 1..8 relay URLs, got 0']);
      expect(issuesOf(() => resolvePluginConfig(manifest, { relay: ['ws://a:1', 'tcp://b:2', 'ws://a:1'] }))).to.deep.equal([
        "config.relay[1]: expected 'ws://host:port', 'wss://…' or 'udp://host:port', got \"tcp://b:2\"",
        'config.relay[2]: expected a relay not listed before, got "ws://a:1" again',
      ]);
    });

    it('refuses overrides that are not an object', () => {
      expect(issuesOf(() => resolvePluginConfig(manifest, 'ws://x'))).to.deep.equal(['(root): expected an object, got "ws://x"']);
    });
  });
});

describe('semver ranges of the engine field', () => {
  const cases: [range: string, version: string, expected: boolean][] = [
    ['>=9 <10', '9.35.0', true],
    ['>=9 <10', '10.0.0', false],
    ['>=9 <10', '8.99.99', false],
    ['>=7.0.0 <10.0.0', '7.0.0', true],
    ['^9.1', '9.0.9', false],
    ['^9.1', '9.99.0', true],
    ['^0.2.3', '0.3.0', false],
    ['~9.35', '9.35.7', true],
    ['~9.35', '9.36.0', false],
    ['9.x', '9.1.2', true],
    ['9', '10.0.0', false],
    ['<=9.1', '9.1.5', true],
    ['>9.1', '9.1.9', false],
    ['>9.1', '9.2.0', true],
    ['8 || 9', '9.0.0', true],
    ['*', '1.2.3', true],
    ['=9.35.0', '9.35.0', true],
  ];
  for (const [range, version, expected] of cases) {
    it(`${version} ${expected ? 'satisfies' : 'does not satisfy'} '${range}'`, () => {
      const parsed = parseVersionRange(range);
      expect(parsed, range).to.not.equal(null);
      expect(satisfies(parseVersion(version)!, parsed!)).to.equal(expected);
    });
  }

  it('refuses what it does not understand', () => {
    for (const bad of ['', 'latest', '>=9 <', '9.x.3', '>>9', '9 ||']) expect(parseVersionRange(bad), bad).to.equal(null);
    expect(parseVersion('9.1')).to.equal(null);
    expect(parseVersion('9.1.0-beta.1')).to.deep.equal([9, 1, 0]);
  });
});
