/** Renders the same rows as an aligned terminal table and as a Markdown table for BENCHMARKS.md. */

export interface Column {
  readonly title: string;
  /** Numbers read better right-aligned, in the terminal and in Markdown. */
  readonly align: 'left' | 'right';
}

export type Row = readonly string[];

function cell(row: Row, index: number): string {
  return row[index] ?? '';
}

function pad(text: string, width: number, align: Column['align']): string {
  return align === 'right' ? text.padStart(width) : text.padEnd(width);
}

export function renderText(columns: readonly Column[], rows: readonly Row[]): string {
  const widths = columns.map((column, index) =>
    Math.max(column.title.length, ...rows.map((row) => cell(row, index).length)),
  );
  const line = (texts: readonly string[]) =>
    columns.map((column, index) => pad(texts[index] ?? '', widths[index]!, column.align)).join('  ');
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [
    line(columns.map((c) => c.title)),
    rule,
    ...rows.map((row) => line(columns.map((_, i) => cell(row, i)))),
  ].join('\n');
}

function escapeMarkdown(text: string): string {
  return text.replaceAll('|', '\\|');
}

export function renderMarkdown(columns: readonly Column[], rows: readonly Row[]): string {
  const header = `| ${columns.map((c) => escapeMarkdown(c.title)).join(' | ')} |`;
  const rule = `|${columns.map((c) => (c.align === 'right' ? ' ---: ' : ' --- ')).join('|')}|`;
  const body = rows.map((row) => `| ${columns.map((_, i) => escapeMarkdown(cell(row, i))).join(' | ')} |`);
  return [header, rule, ...body].join('\n');
}
