// Plain-text table for the terminal: one header row, right-aligned numeric columns.
export function formatTable(columns, rows) {
  const cells = rows.map((row) => columns.map((c) => format(row[c.key], c.digits)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i].length)));
  const line = (values) => values.map((v, i) => v.padStart(widths[i])).join('  ');
  return [line(columns.map((c) => c.title)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function format(value, digits = 2) {
  if (value === null || value === undefined) return '—';
  return typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(digits) : String(value);
}
