/**
 * A dependency-free SVG bar chart: panels stacked vertically, each with groups of horizontal bars
 * (one colour per series) on a linear scale from 0. Text is escaped; numbers are formatted.
 */
import { formatCell, type ChartPanel } from './report';

const PALETTE = ['#2f6fdf', '#e0823d', '#3a9d5d', '#b5485d', '#7a5cc2', '#6b7280'];
const WIDTH = 760;
const LABEL_WIDTH = 210;
const BAR_HEIGHT = 14;
const BAR_GAP = 3;
const GROUP_GAP = 10;
const PANEL_TITLE = 26;
const PANEL_GAP = 18;
const LEGEND_HEIGHT = 22;

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function renderChart(title: string, subtitle: string, panels: readonly ChartPanel[]): string {
  const series = [...new Set(panels.flatMap((p) => p.groups.flatMap((g) => g.bars.map((b) => b.series))))];
  const colour = new Map(series.map((s, i) => [s, PALETTE[i % PALETTE.length]]));
  const parts: string[] = [];
  let y = 44;
  // Legend
  let x = 10;
  for (const s of series) {
    parts.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${colour.get(s)}"/>`);
    parts.push(`<text x="${x + 16}" y="${y + 10}" class="small">${escapeXml(s)}</text>`);
    x += 24 + s.length * 6.5;
  }
  y += LEGEND_HEIGHT;
  const plotWidth = WIDTH - LABEL_WIDTH - 90;
  for (const panel of panels) {
    const max = niceMax(Math.max(0, ...panel.groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)))));
    parts.push(`<text x="10" y="${y + 16}" class="panel">${escapeXml(panel.title)} (${escapeXml(panel.unit)})</text>`);
    y += PANEL_TITLE;
    const top = y;
    for (const group of panel.groups) {
      const groupHeight = group.bars.length * (BAR_HEIGHT + BAR_GAP);
      parts.push(`<text x="${LABEL_WIDTH - 8}" y="${y + groupHeight / 2 + 4}" text-anchor="end" class="small">${escapeXml(group.label)}</text>`);
      for (const bar of group.bars) {
        const value = Number.isFinite(bar.value) ? bar.value : 0;
        const w = Math.max(1, (value / max) * plotWidth);
        parts.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${w.toFixed(1)}" height="${BAR_HEIGHT}" fill="${colour.get(bar.series)}"><title>${escapeXml(`${bar.series}: ${formatCell(bar.value)} ${panel.unit}`)}</title></rect>`);
        parts.push(`<text x="${(LABEL_WIDTH + w + 4).toFixed(1)}" y="${y + BAR_HEIGHT - 3}" class="value">${escapeXml(Number.isFinite(bar.value) ? formatCell(bar.value) : 'n/a')}</text>`);
        y += BAR_HEIGHT + BAR_GAP;
      }
      y += GROUP_GAP;
    }
    // Axis: 0 and max.
    parts.push(`<line x1="${LABEL_WIDTH}" y1="${top - 2}" x2="${LABEL_WIDTH}" y2="${y - GROUP_GAP + 2}" class="axis"/>`);
    parts.push(`<text x="${LABEL_WIDTH + plotWidth}" y="${top - 4}" text-anchor="end" class="tick">${escapeXml(`${formatCell(max)} ${panel.unit}`)}</text>`);
    y += PANEL_GAP;
  }
  const height = y + 6;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    '<style>.title{font-size:16px;font-weight:bold}.sub{font-size:11px;fill:#555}.panel{font-size:13px;font-weight:bold}.small{font-size:11px}.value{font-size:10px;fill:#333}.tick{font-size:10px;fill:#777}.axis{stroke:#999;stroke-width:1}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" class="title">${escapeXml(title)}</text>`,
    `<text x="10" y="36" class="sub">${escapeXml(subtitle)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
