/** Plain-text tables for terminal output: columns padded to their widest cell, two spaces apart. */

/**
 * Lays out `rows` (the first is the header). `paint(row, column, padded)` may colour a padded cell;
 * padding is computed on the plain text, so escape codes never shift the columns.
 */
export function textTable(
  rows: readonly (readonly string[])[],
  paint: (row: number, column: number, padded: string) => string = (_r, _c, padded) => padded,
): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r, i) =>
    r
      .map((cell, c) => paint(i, c, c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
}
