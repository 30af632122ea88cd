/**
 * Appends the event log. Records are buffered and written with one `write` per flush; the
 * runtime flushes at every mailbox commit before it settles the callers, so an acknowledged
 * write is always in the log (test/eventlog/recorder.test.ts).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { OpResult } from '../../machines/session.machine.js';
import { LOG_FORMAT, LOG_VERSION, toLogJSON, type LogRecord, type LogSettings } from './format.js';

const FLUSH_AT_BYTES = 1 << 20;

/** A result as a `mailbox.committed` event is logged: file bytes replaced by their sizes. */
function summarizeFiles(files: { filename: string; data?: Buffer; bytes?: number }[]): unknown {
  return files.map((f) => ({ filename: f.filename, bytes: Buffer.isBuffer(f.data) ? f.data.length : f.bytes }));
}

export function summarizeResult(result: OpResult): OpResult {
  if (!result.ok) return result;
  if (result.kind === 'readOutbox' && Array.isArray(result.value)) {
    return { ...result, value: summarizeFiles(result.value as { filename: string; data?: Buffer }[]) };
  }
  if (result.kind === 'readOutboxChecked' && typeof result.value === 'object' && result.value !== null) {
    const read = result.value as { files?: unknown; refused?: unknown };
    if (!Array.isArray(read.files)) return result;
    return {
      ...result,
      value: { ...read, files: summarizeFiles(read.files as { filename: string; data?: Buffer }[]) },
    };
  }
  return result;
}

export class Recorder {
  private fd: number | undefined;
  private buffer: string[] = [];
  private bytes = 0;
  private flushScheduled = false;
  private calls = 0;

  constructor(
    readonly path: string,
    settings: LogSettings,
    startedAt: number,
  ) {
    this.fd = openSync(path, 'w');
    this.push(toLogJSON({ k: 'header', format: LOG_FORMAT, version: LOG_VERSION, startedAt, settings }));
    this.flush();
  }

  record(record: LogRecord): void {
    if (this.fd === undefined) return;
    if (record.k === 'ev' && record.e.type === 'mailbox.committed') {
      const { results } = record.e as unknown as { results: OpResult[] };
      record = { ...record, e: { ...record.e, results: results.map(summarizeResult) } };
    }
    this.push(toLogJSON(record));
  }

  /** Numbers a call and records it; returns the number its `ret` refers to. */
  call(method: string, args: unknown[], at: number): number {
    const c = ++this.calls;
    this.record({ k: 'call', c, m: method, a: args, at });
    return c;
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.fd === undefined || this.buffer.length === 0) return;
    const text = this.buffer.join('');
    this.buffer = [];
    this.bytes = 0;
    writeSync(this.fd, text);
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private push(line: string): void {
    this.buffer.push(`${line}\n`);
    this.bytes += line.length + 1;
    if (this.bytes >= FLUSH_AT_BYTES) this.flush();
    else if (!this.flushScheduled) {
      // Records made outside a commit (timers, exits) reach the file within one turn.
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }
}
