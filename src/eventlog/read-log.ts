/**
 * Reads an event log: the header, then one record per line. A line that is not JSON is refused
 * with its line number (a torn last line from a crash is tolerated and dropped).
 */
import { readFileSync } from 'node:fs';
import { RuntimeError } from '../errors.js';
import type { LogHeader, LogRecord } from './format.js';

export function readLog(path: string): { header: LogHeader; records: LogRecord[] } {
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const records: LogRecord[] = [];
  let header: LogHeader | undefined;
  for (const [i, line] of lines.entries()) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      // Only the last line may be torn (the process died mid-append); anything else is corrupt.
      if (i === lines.length - 1) break;
      throw new RuntimeError('INVALID_INPUT', `${path}:${i + 1}: not a JSON line`);
    }
    if (i === 0) header = parsed as LogHeader;
    else records.push(parsed as LogRecord);
  }
  if (header === undefined || (header as { k?: unknown }).k !== 'header') {
    throw new RuntimeError('INVALID_INPUT', `${path}: the first line is not an event-log header`);
  }
  return { header, records };
}
