/**
 * One line of the benchmark table, and the three ways it is printed: a text table for a
 * terminal, one JSON object per line (--json), and a Markdown table (--markdown).
 *
 * Modules that add sections (bridge.ts, browser.ts, virtualTime.ts) return BenchRow[]
 * built with measuredRow / skippedRow / errorRow, and get a BenchContext.
 */
import type { Summary } from './stats';

export type RowStatus = 'ok' | 'skipped' | 'error';

export interface BenchRow {
  section: string;
  name: string;
  status: RowStatus;
  /** Median over the repetitions; absent when skipped or failed (never a made-up zero). */
  median?: number;
  min?: number;
  max?: number;
  repetitions?: number;
  unit: string;
  /** Which anchor the ratio compares with, e.g. "smtp-server (npm)". */
  anchor?: string;
  anchorMedian?: number;
  /** median / anchorMedian. */
  ratio?: number;
  /** The target on the ratio, e.g. ">= 1.0" or "<= 1.0". */
  target?: string;
  targetMet?: boolean;
  /** Unexpected replies, timeouts, lost connections during the measure. */
  errors?: number;
  /** Why a row was skipped or failed, or a detail worth reading beside the figure. */
  note?: string;
}

/** What a section module receives from the runner. */
export interface BenchContext {
  /** Fewer repetitions and smaller loads (--quick). */
  quick: boolean;
  warmup: number;
  repetitions: number;
  /** Progress lines; they go to stderr so stdout stays machine-readable. */
  log(line: string): void;
  /** The project's root directory. */
  projectRoot: string;
}

export type Target = { kind: 'at-least' | 'at-most'; value: number };

export function measuredRow(
  section: string,
  name: string,
  summary: Summary,
  unit: string,
  extra: { anchor?: string; anchorMedian?: number; target?: Target; errors?: number; note?: string } = {},
): BenchRow {
  const row: BenchRow = {
    section,
    name,
    status: 'ok',
    median: summary.median,
    min: summary.min,
    max: summary.max,
    repetitions: summary.samples.length,
    unit,
  };
  if (extra.anchor !== undefined) row.anchor = extra.anchor;
  if (extra.anchorMedian !== undefined && extra.anchorMedian > 0) {
    row.anchorMedian = extra.anchorMedian;
    row.ratio = summary.median / extra.anchorMedian;
    if (extra.target) {
      row.target = `${extra.target.kind === 'at-least' ? '>=' : '<='} ${extra.target.value.toFixed(1)}`;
      row.targetMet = extra.target.kind === 'at-least' ? row.ratio >= extra.target.value : row.ratio <= extra.target.value;
    }
  }
  if (extra.errors !== undefined) row.errors = extra.errors;
  if (extra.note !== undefined) row.note = extra.note;
  return row;
}

export function skippedRow(section: string, name: string, unit: string, reason: string): BenchRow {
  return { section, name, status: 'skipped', unit, note: reason };
}

export function errorRow(section: string, name: string, error: unknown): BenchRow {
  const message = error instanceof Error ? error.message : String(error);
  return { section, name, status: 'error', unit: '', note: message.split('\n')[0] };
}

/** Significant-looking rounding: 3 significant digits, no exponent. */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '';
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return Math.round(value).toString();
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  if (magnitude === 0) return '0';
  return value.toPrecision(3);
}

const HEADERS = ['section', 'measure', 'median', 'spread (min–max)', 'unit', 'anchor', 'anchor median', 'ratio', 'target', 'errors', 'note'];

function cells(row: BenchRow): string[] {
  const status = row.status === 'ok' ? '' : row.status.toUpperCase();
  const spread = row.min !== undefined && row.max !== undefined ? `${formatNumber(row.min)}–${formatNumber(row.max)}` : '';
  const target = row.target === undefined ? '' : `${row.target} ${row.targetMet ? 'met' : 'NOT met'}`;
  return [
    row.section,
    row.name,
    row.status === 'ok' ? formatNumber(row.median) : status,
    spread,
    row.unit,
    row.anchor ?? '',
    formatNumber(row.anchorMedian),
    row.ratio === undefined ? '' : row.ratio.toFixed(2),
    target,
    row.errors === undefined ? '' : String(row.errors),
    row.note ?? '',
  ];
}

export function renderText(rows: readonly BenchRow[]): string {
  const table = [HEADERS, ...rows.map(cells)];
  const widths = HEADERS.map((_, column) => Math.max(...table.map((line) => line[column]!.length)));
  // The note column is left ragged: it can be long.
  return table
    .map((line) => line.map((cell, column) => (column === line.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd())
    .join('\n');
}

export function renderMarkdown(rows: readonly BenchRow[]): string {
  const escape = (text: string) => text.replace(/\|/g, '\\|');
  const lines = [`| ${HEADERS.join(' | ')} |`, `|${HEADERS.map((_, i) => (i >= 2 && i <= 3) || i === 6 || i === 7 ? '---:' : '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${cells(row).map(escape).join(' | ')} |`);
  return lines.join('\n');
}

export function renderJson(row: BenchRow): string {
  return JSON.stringify({ type: 'row', ...row });
}
