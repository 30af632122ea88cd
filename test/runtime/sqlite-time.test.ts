/**
 * `sqliteDatetime` and `parseSqliteTime` (issue 10 items 4 and 9), held against SQLite itself:
 * the host's timers and the container's `datetime()` comparisons must agree on every time.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSqliteTime, sqliteDatetime } from '../../src/runtime/sqlite-time.js';

const sqlite = new Database(':memory:');
afterAll(() => sqlite.close());
const epochOf = sqlite.prepare<[string], { u: number | null }>("SELECT unixepoch(?, 'subsec') AS u");
const datetimeOf = sqlite.prepare<[number], { d: string }>("SELECT datetime(? / 1000.0, 'unixepoch') AS d");

/** What SQLite makes of `text`: epoch ms, or NaN where `datetime(text)` is NULL. */
function sqliteMs(text: string): number {
  const { u } = epochOf.get(text)!;
  return u === null ? Number.NaN : Math.round(u * 1000);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Date-time texts in every shape SQLite reads, with near misses of each part. */
const timeText = fc
  .record({
    year: fc.integer({ min: 1900, max: 2200 }),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.integer({ min: 0, max: 32 }),
    separator: fc.constantFrom('T', ' ', '  ', 't', 'TT', '\t', ''),
    hour: fc.integer({ min: 0, max: 25 }),
    minute: fc.integer({ min: 0, max: 60 }),
    second: fc.option(fc.integer({ min: 0, max: 60 })),
    fraction: fc.option(fc.stringMatching(/^[0-9]{0,10}$/)),
    zone: fc.constantFrom(
      '',
      'Z',
      'z',
      ' Z',
      '+02:00',
      '-05:30',
      ' +01:00',
      '+14:00',
      '+15:00',
      '+0200',
      '+2:00',
      'ZZ',
      ' x',
    ),
    withTime: fc.boolean(),
    lead: fc.constantFrom('', '', ' '),
    trail: fc.constantFrom('', '', ' ', '\n'),
  })
  .map((p) => {
    const date = `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`;
    if (!p.withTime) return `${p.lead}${date}${p.trail}`;
    let time = `${pad(p.hour)}:${pad(p.minute)}`;
    if (p.second !== null) time += `:${pad(p.second)}${p.fraction === null ? '' : `.${p.fraction}`}`;
    return `${p.lead}${date}${p.separator}${time}${p.zone}${p.trail}`;
  });

describe('parseSqliteTime', () => {
  it('reads both forms the format uses: ISO-8601 and datetime() text', () => {
    expect(parseSqliteTime('2026-01-01T00:00:02.000Z')).toBe(Date.UTC(2026, 0, 1, 0, 0, 2));
    expect(parseSqliteTime('2026-01-01 00:00:02')).toBe(Date.UTC(2026, 0, 1, 0, 0, 2));
    expect(parseSqliteTime('2026-01-01T00:00:02')).toBe(Date.UTC(2026, 0, 1, 0, 0, 2));
    expect(parseSqliteTime('2026-01-01')).toBe(Date.UTC(2026, 0, 1));
    expect(parseSqliteTime('2026-01-01 10:30')).toBe(Date.UTC(2026, 0, 1, 10, 30));
    expect(parseSqliteTime('2026-01-01T10:00:00+02:00')).toBe(Date.UTC(2026, 0, 1, 8));
    expect(parseSqliteTime('2026-01-01T10:00:00.123456Z')).toBe(Date.UTC(2026, 0, 1, 10, 0, 0, 123));
  });

  it('is NaN where SQLite reads NULL, also for texts Date.parse accepts', () => {
    for (const text of [
      '',
      'tomorrow',
      '2026-01-01T00:00:00+0200', // SQLite wants ±HH:MM
      '2026-01-01t00:00:00', // a lowercase separator
      ' 2026-01-01T00:00:00Z', // a leading space
      '2026-01-01T00:00:00+15:00', // a zone past 14 hours
      '2026-13-01',
      '2026-01-01T25:00:00',
      '2026-01-01T00:00:00.',
    ]) {
      expect({ text, ms: parseSqliteTime(text) }).toEqual({ text, ms: Number.NaN });
      expect({ text, ms: sqliteMs(text) }).toEqual({ text, ms: Number.NaN });
    }
  });

  it('reads a fraction past 0.999 s as 0.999 s, as SQLite does (never the next second)', () => {
    for (const text of ['1900-01-01T00:00:00.9995', '2000-01-01T00:00:00.9995', '2000-01-01T00:00:59.99999']) {
      expect({ text, ms: parseSqliteTime(text) }).toEqual({ text, ms: sqliteMs(text) });
    }
    expect(parseSqliteTime('2000-01-01T00:00:00.9995')).toBe(Date.UTC(2000, 0, 1, 0, 0, 0, 999));
  });

  it('agrees with SQLite on every date-time text, to the millisecond (property)', () => {
    fc.assert(
      fc.property(timeText, (text) => {
        expect({ text, ms: parseSqliteTime(text) }).toEqual({ text, ms: sqliteMs(text) });
      }),
      { numRuns: 5000 },
    );
  });

  it('reads back every time sqliteDatetime and toISOString write (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }), (ms) => {
        expect(parseSqliteTime(new Date(ms).toISOString())).toBe(ms);
        expect(parseSqliteTime(sqliteDatetime(ms))).toBe(ms - (ms % 1000));
      }),
    );
  });
});

describe('sqliteDatetime', () => {
  it("writes what datetime(…, 'unixepoch') writes: whole seconds, UTC, a space between (property)", () => {
    expect(sqliteDatetime(Date.UTC(2026, 0, 1, 0, 0, 1, 999))).toBe('2026-01-01 00:00:01');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }), (ms) => {
        expect(sqliteDatetime(ms)).toBe(datetimeOf.get(ms - (ms % 1000))!.d);
      }),
    );
  });
});
