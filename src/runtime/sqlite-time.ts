/**
 * Times as SQLite's `datetime()` reads and writes them (FORMAT.md: times are compared through
 * `datetime()`; host-written times others compare as text use its `YYYY-MM-DD HH:MM:SS` form).
 * Guarded by test/runtime/sqlite-time.test.ts.
 */

/** `YYYY-MM-DD HH:MM:SS` in UTC, as `datetime('now')` writes it. */
export function sqliteDatetime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

const SHAPE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Epoch ms of a time `datetime()` can parse (date, optional time with `T` or a space, optional
 * fraction, optional `Z` or offset; no zone means UTC, as in SQLite), or NaN.
 */
export function parseSqliteTime(text: string): number {
  const m = SHAPE.exec(text.trim());
  if (m === null) return Number.NaN;
  const [, date, time, zone] = m;
  const hhmmss = time === undefined ? '00:00:00' : time.length === 5 ? `${time}:00` : time;
  let z = zone === undefined ? 'Z' : zone.toUpperCase();
  if (z !== 'Z' && !z.includes(':')) z = `${z.slice(0, 3)}:${z.slice(3)}`;
  return Date.parse(`${date}T${hhmmss}${z}`);
}
