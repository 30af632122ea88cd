/**
 * `readLog`: an event log from a file path, the log's text, or an iterable (sync or async) of
 * records or JSON lines — the header first, then one record each.
 *
 * Invariants (guarded by test/eventlog/read-log.test.ts):
 * 1. A log is refused with `INVALID_INPUT`, naming the line, when its first line is not a
 *    `session-actors/eventlog` header of version `LOG_VERSION`, or when a later line is not JSON
 *    or not a record of a known kind with the fields that kind needs ("refuses … naming the line").
 * 2. Only a torn last line (the process died mid-append) is tolerated, and dropped; a line that
 *    is not JSON anywhere else is corruption ("drops a torn last line, refuses one in the middle").
 * 3. Every source gives the same `{ header, records }` for the same log ("reads a path, a string,
 *    an iterable and an async iterable alike").
 */
import { readFileSync } from 'node:fs';
import { RuntimeError } from '../errors.js';
import { LOG_FORMAT, LOG_VERSION, type LogHeader, type LogRecord } from './format.js';

/** One line of a log: a parsed header or record, or its JSON text. */
export type LogLine = LogHeader | LogRecord | string;

/**
 * Where a log comes from. A string whose first character is `{` is the log's text (JSON lines);
 * any other string is a file path. Bytes are decoded as UTF-8 text.
 */
export type LogSource = string | Uint8Array | Iterable<LogLine> | AsyncIterable<LogLine>;

/** A parsed log: its header and its records, in file order. */
export interface EventLog {
  header: LogHeader;
  records: LogRecord[];
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number';

/** What each record kind must carry for replay to read it without guessing. */
const RECORD_FIELDS: Record<LogRecord['k'], (r: Obj) => boolean> = {
  call: (r) => isNum(r.c) && isStr(r.m) && Array.isArray(r.a) && isNum(r.at),
  ret: (r) => isNum(r.c) && (r.ok === true || (r.ok === false && isObj(r.err) && isStr(r.err.code))),
  id: (r) => isStr(r.p) && isStr(r.v),
  ev: (r) => isStr(r.s) && isObj(r.e) && isStr(r.e.type),
  activate: (r) => isStr(r.s) && isStr(r.ag),
  passivate: (r) => isStr(r.s),
  reconcile: (r) => isStr(r.s) && isStr(r.from),
  tr: (r) => isStr(r.sessionId) && isStr(r.from) && isStr(r.to) && isStr(r.reason),
  end: (r) => isStr(r.digest),
};

function refuse(label: string, line: number | null, why: string): never {
  throw new RuntimeError('INVALID_INPUT', `${label}${line === null ? '' : `:${line}`}: ${why}`);
}

function checkHeader(value: unknown, label: string): LogHeader {
  if (!isObj(value) || value.k !== 'header') refuse(label, 1, 'the first line is not an event-log header');
  if (value.format !== LOG_FORMAT) refuse(label, 1, `the header's format is not ${LOG_FORMAT}`);
  if (value.version !== LOG_VERSION) {
    refuse(label, 1, `event log version ${String(value.version)} is not supported (this reader reads ${LOG_VERSION})`);
  }
  if (!isNum(value.startedAt) || !isObj(value.settings)) {
    refuse(label, 1, 'the header lacks startedAt or settings');
  }
  return value as unknown as LogHeader;
}

function checkRecord(value: unknown, label: string, line: number): LogRecord {
  const kind = isObj(value) ? value.k : undefined;
  const check = isStr(kind) && Object.hasOwn(RECORD_FIELDS, kind) ? RECORD_FIELDS[kind as LogRecord['k']] : undefined;
  if (check === undefined) refuse(label, line, `not an event-log record (k is ${JSON.stringify(kind) ?? 'missing'})`);
  if (!check(value as Obj)) refuse(label, line, `a "${String(kind)}" record without the fields it needs`);
  return value as LogRecord;
}

/** Collects lines into a log, applying the rules of the module header. */
class LogBuilder {
  private header: LogHeader | undefined;
  private readonly records: LogRecord[] = [];
  private line = 0;
  /** A line that was not JSON: an error unless it turns out to be the last one. */
  private torn = false;

  constructor(private readonly label: string) {}

  add(item: LogLine): void {
    if (this.torn) refuse(this.label, this.line, 'not a JSON line');
    this.line++;
    let value: unknown = item;
    if (typeof item === 'string') {
      try {
        value = JSON.parse(item);
      } catch {
        // Only the last line may be torn (the process died mid-append); anything else is corrupt.
        this.torn = true;
        return;
      }
    }
    if (this.header === undefined) this.header = checkHeader(value, this.label);
    else this.records.push(checkRecord(value, this.label, this.line));
  }

  finish(): EventLog {
    if (this.header === undefined) refuse(this.label, null, 'the first line is not an event-log header');
    return { header: this.header, records: this.records };
  }
}

function fromText(text: string, label: string): EventLog {
  const builder = new LogBuilder(label);
  let start = 0;
  for (let end = text.indexOf('\n'); start < text.length; end = text.indexOf('\n', start)) {
    const stop = end === -1 ? text.length : end;
    builder.add(text.slice(start, stop));
    start = stop + 1;
  }
  return builder.finish();
}

function isAsync(source: object): source is AsyncIterable<LogLine> {
  return typeof (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function';
}

async function fromAsync(source: AsyncIterable<LogLine>): Promise<EventLog> {
  const builder = new LogBuilder('log');
  for await (const item of source) builder.add(item);
  return builder.finish();
}

/**
 * Reads an event log (see `LogSource`). Synchronous for a path, a text or a sync iterable; a
 * promise for an async iterable (`await readLog(source)` suits every source). Throws
 * `INVALID_INPUT` naming the line for a bad header, an unsupported version or a malformed line.
 */
export function readLog(source: string | Uint8Array | Iterable<LogLine>): EventLog;
export function readLog(source: AsyncIterable<LogLine>): Promise<EventLog>;
export function readLog(source: LogSource): EventLog | Promise<EventLog>;
export function readLog(source: LogSource): EventLog | Promise<EventLog> {
  if (typeof source === 'string') {
    if (source.startsWith('{')) return fromText(source, 'log');
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch (error) {
      throw new RuntimeError('INVALID_INPUT', `cannot read the event log ${source}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return fromText(text, source);
  }
  if (source instanceof Uint8Array) return fromText(Buffer.from(source).toString('utf8'), 'log');
  if (typeof source !== 'object' || source === null) {
    throw new RuntimeError('INVALID_INPUT', 'an event log is a path, its text, or an iterable of records');
  }
  if (isAsync(source)) return fromAsync(source);
  if (typeof (source as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function') {
    throw new RuntimeError('INVALID_INPUT', 'an event log is a path, its text, or an iterable of records');
  }
  const builder = new LogBuilder('log');
  for (const item of source) builder.add(item);
  return builder.finish();
}
