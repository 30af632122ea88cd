/**
 * readLog: every kind of source gives the same log; a bad header, an unsupported version and a
 * malformed line are refused with INVALID_INPUT naming the line; only a torn last line is dropped.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { readLog, type LogLine } from '../../src/eventlog/read-log.js';
import { replayLog } from '../../src/eventlog/replay.js';
import { useTmpDir } from '../helpers/tmp.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/logs/mode-shared.jsonl', import.meta.url));
const text = readFileSync(FIXTURE, 'utf8');
const lines = text.trimEnd().split('\n');
const parsed = lines.map((l) => JSON.parse(l) as LogLine);
const tmp = useTmpDir('sa-read-log-');

async function* asyncLines<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) {
    await Promise.resolve();
    yield item;
  }
}

/** The log's lines with line `n` (1-based) replaced. */
function withLine(n: number, replacement: string): string {
  return lines.map((l, i) => (i === n - 1 ? replacement : l)).join('\n') + '\n';
}

function refusal(run: () => unknown): RuntimeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).code).toBe('INVALID_INPUT');
    return error as RuntimeError;
  }
  throw new Error('readLog accepted the log');
}

describe('readLog', () => {
  it('reads a path, a string, bytes, an iterable and an async iterable alike', async () => {
    const fromPath = readLog(FIXTURE);
    expect(fromPath.header).toMatchObject({ k: 'header', version: 2 });
    expect(fromPath.records).toHaveLength(lines.length - 1);
    expect(fromPath.records).toEqual(parsed.slice(1));
    expect(readLog(text)).toEqual(fromPath);
    expect(readLog(Buffer.from(text))).toEqual(fromPath);
    expect(readLog(parsed)).toEqual(fromPath);
    expect(readLog(lines)).toEqual(fromPath);
    expect(await readLog(asyncLines(parsed))).toEqual(fromPath);
    expect(await readLog(asyncLines(lines))).toEqual(fromPath);
  });

  it('drops a torn last line, refuses one in the middle naming it', async () => {
    const torn = `${text}{"k":"ev","s":"sess-1","e":{"ty`;
    expect(readLog(torn).records).toHaveLength(lines.length - 1);
    expect(readLog([...lines, '{"k":"ev"']).records).toHaveLength(lines.length - 1);
    expect(refusal(() => readLog(withLine(3, '{"k":"ev",'))).message).toBe('log:3: not a JSON line');
    const path = join(tmp(), 'corrupt.jsonl');
    writeFileSync(path, withLine(5, 'garbage'));
    expect(refusal(() => readLog(path)).message).toBe(`${path}:5: not a JSON line`);
    await expect(readLog(asyncLines([...lines.slice(0, 4), 'x', ...lines.slice(4)]))).rejects.toThrow(
      'log:5: not a JSON line',
    );
  });

  it('refuses a first line that is not a session-actors header, and another version', () => {
    const header = parsed[0] as Record<string, unknown>;
    expect(refusal(() => readLog(lines.slice(1))).message).toBe('log:1: the first line is not an event-log header');
    expect(refusal(() => readLog([])).message).toBe('log: the first line is not an event-log header');
    expect(refusal(() => readLog('{}\n')).message).toMatch(/^log:1: the first line is not an event-log header/);
    expect(refusal(() => readLog([{ ...header, format: 'other' } as unknown as LogLine])).message).toMatch(
      /^log:1: the header's format is not session-actors\/eventlog/,
    );
    expect(refusal(() => readLog(withLine(1, JSON.stringify({ ...header, version: 1 })))).message).toBe(
      'log:1: event log version 1 is not supported (this reader reads 2)',
    );
    expect(refusal(() => readLog([{ ...header, settings: undefined } as unknown as LogLine])).message).toMatch(
      /settings/,
    );
  });

  it('refuses a record of an unknown kind or without the fields its kind needs, naming its line', () => {
    expect(refusal(() => readLog(withLine(2, '{"k":"bogus"}'))).message).toBe(
      'log:2: not an event-log record (k is "bogus")',
    );
    expect(refusal(() => readLog(withLine(4, '[1,2]'))).message).toBe('log:4: not an event-log record (k is missing)');
    expect(refusal(() => readLog(withLine(6, '{"k":"ev","s":"sess-1","e":{}}'))).message).toBe(
      'log:6: a "ev" record without the fields it needs',
    );
    expect(refusal(() => readLog(withLine(7, '{"k":"call","c":1,"m":"wake","a":"x","at":1}'))).message).toBe(
      'log:7: a "call" record without the fields it needs',
    );
    expect(refusal(() => readLog(withLine(8, '{"k":"ret","c":1,"ok":false}'))).message).toMatch(/^log:8: a "ret"/);
  });

  it('refuses what is not a log source, and a missing file', () => {
    expect(refusal(() => readLog(42 as unknown as string)).message).toMatch(/a path, its text, or an iterable/);
    expect(refusal(() => readLog({} as unknown as string)).message).toMatch(/a path, its text, or an iterable/);
    expect(refusal(() => readLog(join(tmp(), 'missing.jsonl'))).message).toMatch(
      /^cannot read the event log .*missing/,
    );
  });
});

describe('replayLog takes any log source', () => {
  it('replays a string and an async iterable to the same result as the path', async () => {
    const fromPath = await replayLog(FIXTURE, { dataDir: join(tmp(), 'a') });
    const fromText = await replayLog(text, { dataDir: join(tmp(), 'b') });
    const fromRecords = await replayLog(asyncLines(parsed), { dataDir: join(tmp(), 'c') });
    expect(fromPath.divergence).toBeNull();
    expect(fromText).toEqual(fromPath);
    expect(fromRecords).toEqual(fromPath);
  });

  it('rejects a malformed log before touching the data directory', async () => {
    const dataDir = join(tmp(), 'd');
    await expect(replayLog(withLine(3, '{"k":"nope"}'), { dataDir })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: 'log:3: not an event-log record (k is "nope")',
    });
    expect(existsSync(dataDir)).toBe(false);
  });
});
