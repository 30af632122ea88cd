/**
 * `diffLogs`: the first record where two event logs differ — two runs of one scenario, e.g. the
 * same test before and after a change.
 *
 * Invariants (guarded by test/eventlog/diff-logs.test.ts):
 * 1. Records are compared in log order, field by field (object key order does not matter), and
 *    the first difference is named by its record, line and field path.
 * 2. Only fields that differ between two runs of the same deterministic program are ignored
 *    (`DIFF_IGNORED`): the header's `startedAt`, every `heartbeatMtimeMs` (the modification time
 *    of a file, which the injected clock does not govern), and the `message` of a recorded error
 *    (text for people that may hold temporary paths; its `code` is compared). `ignore` adds field
 *    names ignored at any depth, e.g. `at` for runs on a wall clock.
 */
import type { LogRecord } from './format.js';
import { readLog, type LogSource } from './read-log.js';

/** What `diffLogs` ignores without being asked (see the module header). */
export const DIFF_IGNORED = {
  header: ['startedAt'],
  anywhere: ['heartbeatMtimeMs'],
  errorMessages: true,
} as const;

export interface DiffLogsOptions {
  /** More field names to ignore, at any depth of any record (and of the header). */
  ignore?: readonly string[];
}

/** Where two logs first differ. */
export interface LogDiff {
  /** 0-based index of the record (the header excluded); -1 for the header. */
  index: number;
  /** 1-based line in both logs. */
  line: number;
  /** The field that differs, as a path into the record (`e.results[0].value.seq`); '' for the whole record. */
  path: string;
  what: string;
  /** The value at `path` in the first log (undefined: absent, or the log ended). */
  a: unknown;
  /** The value at `path` in the second log. */
  b: unknown;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An error as the log writes it: `{ $error, message }`, or a `ret`'s `err: { code, message }`. */
function isErrorObject(v: Obj, key: string | undefined): boolean {
  return '$error' in v || (key === 'err' && 'code' in v);
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** The path of the first difference between `a` and `b`, or null when they are equal. */
function firstDifference(a: unknown, b: unknown, path: string, ignored: Set<string>, key?: string): string | null {
  if (Object.is(a, b)) return null;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i >= a.length || i >= b.length) return join(path, i);
      const found = firstDifference(a[i], b[i], join(path, i), ignored);
      if (found !== null) return found;
    }
    return null;
  }
  if (isObj(a) && isObj(b)) {
    const skipMessage = DIFF_IGNORED.errorMessages && isErrorObject(a, key) && isErrorObject(b, key);
    const keys = [...Object.keys(a), ...Object.keys(b).filter((k) => !Object.hasOwn(a, k))];
    for (const k of keys) {
      if (ignored.has(k) || (skipMessage && k === 'message')) continue;
      if (!Object.hasOwn(a, k) || !Object.hasOwn(b, k)) return join(path, k);
      const found = firstDifference(a[k], b[k], join(path, k), ignored, k);
      if (found !== null) return found;
    }
    return null;
  }
  return path;
}

function valueAt(root: unknown, path: string): unknown {
  let value = root;
  for (const [, key, index] of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (value === null || typeof value !== 'object') return undefined;
    value = index !== undefined ? (value as unknown[])[Number(index)] : (value as Obj)[key!];
  }
  return value;
}

/**
 * Reads two logs (any `LogSource`) and returns where they first differ, or null when they are
 * the same run. Throws `INVALID_INPUT` for a log that cannot be read (see `readLog`).
 */
export async function diffLogs(a: LogSource, b: LogSource, options: DiffLogsOptions = {}): Promise<LogDiff | null> {
  const [left, right] = [await readLog(a), await readLog(b)];
  const anywhere = new Set<string>([...DIFF_IGNORED.anywhere, ...(options.ignore ?? [])]);
  const headerIgnored = new Set<string>([...anywhere, ...DIFF_IGNORED.header]);
  const header = firstDifference(left.header as unknown, right.header as unknown, '', headerIgnored);
  if (header !== null) {
    const [va, vb] = [valueAt(left.header, header), valueAt(right.header, header)];
    return { index: -1, line: 1, path: header, what: `the headers differ at ${header}`, a: va, b: vb };
  }
  const records: [LogRecord[], LogRecord[]] = [left.records, right.records];
  const shorter = Math.min(records[0].length, records[1].length);
  for (let i = 0; i < shorter; i++) {
    const [ra, rb] = [records[0][i]!, records[1][i]!];
    const path = firstDifference(ra, rb, '', anywhere);
    if (path === null) continue;
    const what =
      path === 'k' ? `record ${i} is a "${ra.k}" in a, a "${rb.k}" in b` : `record ${i} (${ra.k}) differs at ${path}`;
    return { index: i, line: i + 2, path, what, a: valueAt(ra, path), b: valueAt(rb, path) };
  }
  if (records[0].length === records[1].length) return null;
  const longer = records[0].length > records[1].length ? 'a' : 'b';
  const extra = (longer === 'a' ? records[0] : records[1])[shorter];
  return {
    index: shorter,
    line: shorter + 2,
    path: '',
    what: `${longer === 'a' ? 'b' : 'a'} ends before record ${shorter}; ${longer} goes on`,
    a: longer === 'a' ? extra : undefined,
    b: longer === 'b' ? extra : undefined,
  };
}
