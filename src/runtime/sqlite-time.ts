/**
 * Times as SQLite's `datetime()` reads and writes them (FORMAT.md: times are compared through
 * `datetime()`; host-written times others compare as text use its `YYYY-MM-DD HH:MM:SS` form).
 *
 * Invariants (guarded by test/runtime/sqlite-time.test.ts):
 * 1. `sqliteDatetime(ms)` is what `datetime(ms / 1000, 'unixepoch')` gives.
 * 2. `parseSqliteTime(text)` is what SQLite makes of a date-time text, to the millisecond, and NaN
 *    exactly where `datetime(text)` is NULL ("agrees with SQLite ..."). Only SQLite's other input
 *    kinds (`now`, Julian day numbers, a time without a date, a negative year) are NaN here while
 *    SQLite reads them: none of them is a time a host or container writes.
 */

/** `YYYY-MM-DD HH:MM:SS` in UTC, as `datetime('now')` writes it. */
export function sqliteDatetime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Julian day of 1970-01-01 00:00:00 UTC, in ms (2440587.5 days). */
const UNIX_EPOCH_JD_MS = 210_866_760_000_000;

/** SQLite's `sqlite3Isspace`. */
function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** Julian day in ms of a date, by the formula SQLite uses (a day past the month's end rolls over). */
function julianDayMs(year: number, month: number, day: number): number {
  let y = year;
  let m = month;
  if (m <= 2) {
    y--;
    m += 12;
  }
  const a = Math.trunc(y / 100);
  const b = 2 - a + Math.trunc(a / 4);
  const x1 = Math.trunc((36525 * (y + 4716)) / 100);
  const x2 = Math.trunc((306001 * (m + 1)) / 10000);
  return Math.trunc((x1 + x2 + day + b - 1524.5) * 86_400_000);
}

/**
 * Epoch ms of a date-time text as SQLite's `datetime()` reads it, or NaN where it reads NULL:
 * `YYYY-MM-DD`, then optionally (after spaces or `T`s) `HH:MM`, `:SS`, `.fraction`, then spaces
 * and `Z`/`z` or `±HH:MM` (at most 14 hours), then spaces. No zone means UTC.
 *
 * @example parseSqliteTime('2026-01-01 00:00:02') // Date.UTC(2026, 0, 1, 0, 0, 2)
 * @example parseSqliteTime('2026-01-01T00:00:00+0200') // NaN: SQLite wants ±HH:MM
 */
export function parseSqliteTime(text: string): number {
  let i = 0;
  const num = (width: number, min: number, max: number): number | undefined => {
    let value = 0;
    for (let k = 0; k < width; k++) {
      const c = text[i + k];
      if (!isDigit(c)) return undefined;
      value = value * 10 + (c!.charCodeAt(0) - 48);
    }
    if (value < min || value > max) return undefined;
    i += width;
    return value;
  };
  const eat = (c: string): boolean => {
    if (text[i] !== c) return false;
    i++;
    return true;
  };

  const year = num(4, 0, 9999);
  if (year === undefined || !eat('-')) return Number.NaN;
  const month = num(2, 1, 12);
  if (month === undefined || !eat('-')) return Number.NaN;
  const day = num(2, 1, 31);
  if (day === undefined) return Number.NaN;
  while (isSpace(text[i]) || text[i] === 'T') i++;
  let timeMs = 0;
  let zoneMinutes = 0;
  if (i < text.length) {
    const hour = num(2, 0, 24);
    if (hour === undefined || !eat(':')) return Number.NaN;
    const minute = num(2, 0, 59);
    if (minute === undefined) return Number.NaN;
    let seconds = 0;
    if (eat(':')) {
      const whole = num(2, 0, 59);
      if (whole === undefined) return Number.NaN;
      seconds = whole;
      if (text[i] === '.' && isDigit(text[i + 1])) {
        i++;
        let fraction = 0;
        let scale = 1;
        while (isDigit(text[i])) {
          fraction = fraction * 10 + (text.charCodeAt(i) - 48);
          scale *= 10;
          i++;
        }
        // SQLite caps the fraction at 0.999 so it never rounds up into the next second.
        seconds += Math.min(fraction / scale, 0.999);
      }
    }
    timeMs = hour * 3_600_000 + minute * 60_000 + Math.trunc(seconds * 1000 + 0.5);
    while (isSpace(text[i])) i++;
    const sign = text[i] === '+' ? 1 : text[i] === '-' ? -1 : 0;
    if (sign !== 0) {
      i++;
      const zh = num(2, 0, 14);
      if (zh === undefined || !eat(':')) return Number.NaN;
      const zm = num(2, 0, 59);
      if (zm === undefined) return Number.NaN;
      zoneMinutes = sign * (zh * 60 + zm);
    } else if (text[i] === 'Z' || text[i] === 'z') {
      i++;
    }
    while (isSpace(text[i])) i++;
    if (i < text.length) return Number.NaN;
  }
  return julianDayMs(year, month, day) + timeMs - zoneMinutes * 60_000 - UNIX_EPOCH_JD_MS;
}
