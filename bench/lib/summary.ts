/** bench/latest.md and bench/latest.svg: every target of a run in one table, then each benchmark's tables. */
import { describeMachine, type MachineInfo } from './machine';
import { markdownTable, renderResult, type BenchResult } from './report';
import { renderChart } from './svg';

export function renderSummary(results: readonly BenchResult[], machine: MachineInfo, date: Date, quick: boolean): { markdown: string; svg: string } {
  const targets = results.flatMap((r) => r.targets.map((t) => [r.name, t.what, t.target, t.value, t.met ? 'yes' : 'NO', t.note ?? ''] as (string | number)[]));
  const markdown = [
    '# Latest benchmark run',
    '',
    `Machine: ${describeMachine(machine)}  `,
    `Date: ${date.toISOString()}${quick ? ' — **quick run** (shorter windows, fewer configurations)' : ''}  `,
    `Command: \`npm run bench${quick ? ' -- --quick' : ''}\``,
    '',
    '![latency and loss chart](latest.svg)',
    '',
    markdownTable({ title: 'Targets (ratio or figure vs target; no benchmark fails on them)', columns: ['benchmark', 'what', 'target', 'measured', 'met', 'note'], rows: targets }),
    '',
    ...results.map(renderResult),
  ].join('\n');
  const panels = results.flatMap((r) => r.charts ?? []);
  const svg = renderChart('Switchboard: latency and loss', `${describeMachine(machine)} — ${date.toISOString()}${quick ? ' (quick)' : ''}`, panels);
  return { markdown, svg };
}
