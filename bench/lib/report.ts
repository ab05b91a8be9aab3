/**
 * What a benchmark hands back, how it is printed (a markdown table) and where its JSON goes
 * (bench/results/<name>-<timestamp>.json). Pure formatting: no timing, no I/O besides writeResult.
 */
import * as fs from 'fs';
import * as path from 'path';

export type Cell = string | number | null;

export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
}

/** A comparison against a target from issue 8: `value` is the measured ratio (or figure). */
export interface TargetCheck {
  what: string;
  target: string;
  value: number;
  /** True when the figure meets the target; a benchmark never fails on it. */
  met: boolean;
  note?: string;
}

/** One panel of the chart: groups of bars on one scale, e.g. p50/p99 of ours vs a baseline. */
export interface ChartPanel {
  title: string;
  unit: string;
  groups: { label: string; bars: { series: string; value: number }[] }[];
}

export interface BenchResult {
  name: string;
  /** One line: what was measured, against what. */
  summary: string;
  tables: Table[];
  targets: TargetCheck[];
  /** Caveats a reader needs (process layout, what the baseline is, what was skipped and why). */
  notes: string[];
  /** Everything measured, for the JSON file. */
  data: Record<string, unknown>;
  /** Bar groups for bench/latest.svg (latency and loss results). */
  charts?: ChartPanel[];
  /** 1-minute load average of the machine before and after the benchmark (it has 2 cores here). */
  loadAverage?: { before: number; after: number };
  /** Wall seconds the benchmark took. */
  seconds?: number;
  skipped?: string;
}

/** Numbers with a sensible number of digits for a table; strings pass through. */
export function formatCell(value: Cell): string {
  if (value === null) return '—';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'n/a' : String(value);
  const magnitude = Math.abs(value);
  if (magnitude === 0) return '0';
  if (Number.isInteger(value) && magnitude < 1e15) return value.toLocaleString('en-US');
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US');
  if (magnitude >= 100) return value.toFixed(1);
  if (magnitude >= 10) return value.toFixed(2);
  if (magnitude >= 0.01) return value.toFixed(3);
  return value.toPrecision(2);
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(table: Table): string {
  const header = `| ${table.columns.map(escapeCell).join(' | ')} |`;
  const rule = `|${table.columns.map(() => '---').join('|')}|`;
  const rows = table.rows.map((row) => {
    const cells = table.columns.map((_, i) => escapeCell(formatCell(row[i] ?? null)));
    return `| ${cells.join(' | ')} |`;
  });
  return [`**${table.title}**`, '', header, rule, ...rows].join('\n');
}

export function targetsTable(targets: readonly TargetCheck[]): Table {
  return {
    title: 'Targets',
    columns: ['what', 'target', 'measured', 'met', 'note'],
    rows: targets.map((t) => [t.what, t.target, t.value, t.met ? 'yes' : 'NO', t.note ?? '']),
  };
}

/** The markdown of one result: its tables, its targets and its notes. */
export function renderResult(result: BenchResult): string {
  const parts = [`### ${result.name}`, '', result.summary, ''];
  if (result.loadAverage) parts.push(`Machine load (1-min average) before/after: ${result.loadAverage.before.toFixed(2)} / ${result.loadAverage.after.toFixed(2)}; took ${result.seconds?.toFixed(1) ?? '?'} s.`, '');
  if (result.skipped) parts.push(`Skipped: ${result.skipped}`, '');
  for (const table of result.tables) parts.push(markdownTable(table), '');
  if (result.targets.length > 0) parts.push(markdownTable(targetsTable(result.targets)), '');
  for (const note of result.notes) parts.push(`- ${note}`);
  if (result.notes.length > 0) parts.push('');
  return parts.join('\n');
}

/** `2025-01-31T12-00-00Z`: sortable and safe in a file name. */
export function timestampForFile(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/** Writes bench/results/<name>-<timestamp>.json (the folder is made when missing); returns the path. */
export function writeResult(directory: string, result: BenchResult, machine: unknown, date: Date): string {
  fs.mkdirSync(directory, { recursive: true });
  const file = path.join(directory, `${result.name}-${timestampForFile(date)}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ ...result, machine, date: date.toISOString() }, jsonReplacer, 2)}\n`);
  return file;
}

/** JSON has no NaN, Infinity or bigint: write them as null and decimal strings. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  if (value instanceof Float64Array || value instanceof Uint32Array) return Array.from(value);
  return value;
}
