/**
 * Reading the header line of an event log without reading the rest, to refuse a file that is not
 * an event log before replaying it (test/cli/replay.test.ts "refuses a file that is not …").
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { LOG_FORMAT, type LogHeader } from '../eventlog/format.js';

const MAX_HEADER_BYTES = 16 * 1024 * 1024;

/** The first line of a file, read in chunks (at most 16 MiB). */
function firstLine(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(64 * 1024);
    for (let total = 0; total < MAX_HEADER_BYTES;) {
      const n = readSync(fd, buffer, 0, buffer.length, total);
      if (n === 0) break;
      const newline = buffer.subarray(0, n).indexOf(10);
      chunks.push(Buffer.from(buffer.subarray(0, newline === -1 ? n : newline)));
      if (newline !== -1) break;
      total += n;
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The log's header, or a sentence saying why the file is not an event log. */
export function readLogHeader(path: string): LogHeader | string {
  let line: string;
  try {
    line = firstLine(path);
  } catch (error) {
    return `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`;
  }
  let header: unknown;
  try {
    header = JSON.parse(line);
  } catch {
    return `${path} is not an event log: its first line is not JSON`;
  }
  const h = header as Partial<LogHeader> | null;
  if (typeof h !== 'object' || h === null || h.k !== 'header' || h.format !== LOG_FORMAT) {
    return `${path} is not an event log: its first line is not a ${LOG_FORMAT} header`;
  }
  return h as LogHeader;
}
