import { expect } from 'chai';
import { parseArgs, numberOption } from '../../bench/lib/args';
import { formatCell, jsonReplacer, markdownTable, renderResult, timestampForFile, type BenchResult } from '../../bench/lib/report';
import { distribution, percentileOfSorted, ratio, SampleReservoir } from '../../bench/lib/stats';
import { escapeXml, renderChart } from '../../bench/lib/svg';

describe('bench: formatting and statistics (no timing)', () => {
  it('renders a markdown table with formatted, escaped cells', () => {
    const text = markdownTable({ title: 'T', columns: ['a', 'b|c'], rows: [[1234567, 0.12345], ['x|y', null], [Number.NaN, 12.345]] });
    expect(text.split('\n')).to.deep.equal(['**T**', '', '| a | b\\|c |', '|---|---|', '| 1,234,567 | 0.123 |', '| x\\|y | — |', '| n/a | 12.35 |']);
  });

  it('formats numbers by magnitude', () => {
    expect(formatCell(0)).to.equal('0');
    expect(formatCell(1500.7)).to.equal('1,501');
    expect(formatCell(150.27)).to.equal('150.3');
    expect(formatCell(0.001234)).to.equal('0.0012');
    expect(formatCell(Number.POSITIVE_INFINITY)).to.equal('Infinity');
  });

  it('computes nearest-rank percentiles', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentileOfSorted(sorted, 50)).to.equal(50);
    expect(percentileOfSorted(sorted, 99)).to.equal(99);
    expect(percentileOfSorted(sorted, 100)).to.equal(100);
    expect(Number.isNaN(percentileOfSorted(new Float64Array(0), 50))).to.equal(true);
    const d = distribution([5, 1, 3]);
    expect(d).to.include({ count: 3, p50: 3, max: 5, mean: 3 });
    expect(Number.isNaN(ratio(1, 0))).to.equal(true);
  });

  it('keeps at most `capacity` samples, repeatably for a seed', () => {
    const fill = (): Float64Array => {
      const r = new SampleReservoir(10, 42);
      for (let i = 0; i < 1000; i++) r.add(i);
      expect(r.count).to.equal(1000);
      return r.samples();
    };
    const a = fill();
    expect(a.length).to.equal(10);
    expect(Array.from(a)).to.deep.equal(Array.from(fill()));
  });

  it('writes JSON without NaN, Infinity or bigint surprises', () => {
    const text = JSON.stringify({ a: Number.NaN, b: 5n, c: new Float64Array([1.5]) }, jsonReplacer);
    expect(JSON.parse(text)).to.deep.equal({ a: null, b: '5', c: [1.5] });
    expect(timestampForFile(new Date('2025-01-02T03:04:05.678Z'))).to.equal('2025-01-02T03-04-05Z');
  });

  it('renders a result and an SVG chart with escaped text', () => {
    const result: BenchResult = {
      name: 'x',
      summary: 's',
      tables: [],
      targets: [{ what: 'w', target: '≤ 1', value: 0.5, met: true }],
      notes: ['n'],
      data: {},
      charts: [{ title: 'p<99>', unit: 'ms', groups: [{ label: 'a&b', bars: [{ series: 'ours', value: 2 }, { series: 'base', value: Number.NaN }] }] }],
    };
    expect(renderResult(result)).to.contain('| w | ≤ 1 | 0.500 | yes |  |');
    const svg = renderChart('t', 'sub', result.charts ?? []);
    expect(svg.startsWith('<svg')).to.equal(true);
    expect(svg).to.contain('p&lt;99&gt;').and.to.contain('a&amp;b').and.not.to.contain('a&b<');
    expect(escapeXml(`<'&">`)).to.equal('&lt;&apos;&amp;&quot;&gt;');
  });

  it('parses flags and bounded numeric options', () => {
    const args = parseArgs(['--quick', '--peers', '50', '--only=a,b']);
    expect(args.flags.has('quick')).to.equal(true);
    expect(args.values.get('only')).to.equal('a,b');
    expect(numberOption(args, 'peers', 1, 2, 100)).to.equal(50);
    expect(() => numberOption(parseArgs(['--peers', '0']), 'peers', 1, 2, 100)).to.throw(/--peers must be a number in 2..100/);
    expect(() => parseArgs(['stray'])).to.throw(/unexpected argument/);
  });
});
