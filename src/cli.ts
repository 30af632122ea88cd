#!/usr/bin/env node
/**
 * The `session-actors` command: demo, replay, status, viz.
 *
 * `main(argv, io)` is importable (tests pass their own writers); the command runs only when this
 * module is the process's entry script (`dist/src/cli.js`, also through the npm bin symlink).
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { registryMachine } from '../machines/registry.machine.js';
import { sessionMachine } from '../machines/session.machine.js';
import { runDemo } from './demo/demo.js';
import { LOG_FORMAT, type LogHeader } from './eventlog/format.js';
import { replayLog, type ReplayResult } from './eventlog/replay.js';
import {
  describeRecord,
  formatDivergence,
  formatEntry,
  summarizeTransitions,
  type DescribeContext,
} from './eventlog/timeline.js';
import { createRuntime } from './runtime/runtime.js';
import { toJSON, toMermaid } from './viz/index.js';

const USAGE = `usage:
  session-actors demo [--data DIR] [--log FILE]
  session-actors replay FILE [--data DIR] [--verbose]
  session-actors status [--data DIR]
  session-actors viz [--format mermaid|json] [--machine session|registry]`;

/** Where the command writes; `isTTY` on `stderr` enables the replay progress bar. */
export interface CliWriter {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface CliIO {
  stdout: CliWriter;
  stderr: CliWriter;
}

const processIO: CliIO = { stdout: process.stdout, stderr: process.stderr };

async function status(dataDir: string, io: CliIO): Promise<void> {
  const rt = await createRuntime({ dataDir, driver: 'none' });
  try {
    const sessions = rt.listSessions();
    if (sessions.length === 0) {
      io.stdout.write(`no sessions in ${dataDir}\n`);
      return;
    }
    const rows = [['session', 'agent group', 'mode', 'status', 'container', 'in', 'out', 'last active']];
    for (const s of sessions) {
      const counts = await rt.messageCounts(s.id);
      rows.push([
        s.id,
        s.agentGroupId,
        rt.sessionMode(s.id) ?? '?',
        s.status,
        s.containerStatus,
        String(counts.messagesIn),
        String(counts.messagesOut),
        s.lastActive ?? '-',
      ]);
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const r of rows) io.stdout.write(`${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}\n`);
  } finally {
    await rt.close();
  }
}

/** Reads the first line of a file (the header of an event log) without reading the rest. */
function firstLine(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(64 * 1024);
    for (let total = 0; total < 16 * 1024 * 1024;) {
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

/** The log's header, or an explanation of why the file is not an event log. */
function readHeader(path: string): LogHeader | string {
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

/** A progress bar redrawn in place on a terminal; nothing at all when `out` is not one. */
function progressBar(out: CliWriter): { update(done: number, total: number): void; clear(): void } {
  const enabled = out.isTTY === true;
  const started = Date.now();
  let shown = false;
  return {
    update(done, total) {
      // Short logs replay in a blink: no bar for them.
      if (!enabled || total < 10_000) return;
      const width = 30;
      const filled = Math.round((done / total) * width);
      const seconds = (Date.now() - started) / 1000;
      out.write(
        `\r\u001b[2Kreplaying [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor((done / total) * 100)}% ${done}/${total} records ${seconds.toFixed(1)}s`,
      );
      shown = true;
    },
    clear() {
      if (shown) out.write('\r\u001b[2K');
      shown = false;
    },
  };
}

/** The text of one line of a file (1-based), for the divergence report. */
function lineOf(path: string, line: number): string | undefined {
  try {
    const lines = readFileSync(path, 'utf8').split('\n');
    return lines[line - 1];
  } catch {
    return undefined;
  }
}

function printTimeline(io: CliIO, header: LogHeader, result: ReplayResult, verbose: boolean): void {
  const methods = new Map<number, string>();
  const context: DescribeContext = { methodOf: (c) => methods.get(c) };
  const divergence = result.divergence;
  const width = String(result.events.length + 1).length;
  // Written in chunks: one write per line would queue 100k writes on a pipe.
  let chunk: string[] = [];
  const emit = (text: string) => {
    chunk.push(text);
    if (chunk.length >= 1000) {
      io.stdout.write(chunk.join(''));
      chunk = [];
    }
  };
  let hidden = 0;
  for (const [index, record] of result.events.entries()) {
    const line = index + 2;
    if (record.k === 'call') methods.set(record.c, record.m);
    const entry = describeRecord(record, header, context);
    if (record.k === 'ret') methods.delete(record.c);
    if (entry.noise && !verbose && line !== divergence?.line) hidden++;
    else emit(`${formatEntry(line, entry, width)}\n`);
    if (line === divergence?.line) {
      const rest = line <= result.events.length ? ' (later records were not replayed)' : '';
      emit(`${' '.repeat(width)}  !! the replay diverged here${rest}: ${divergence.what}\n`);
    }
  }
  if (hidden > 0)
    emit(
      `(${hidden} routine records hidden: commit turns, poll timers, quiet polls, observations; --verbose shows them)\n`,
    );
  if (chunk.length > 0) io.stdout.write(chunk.join(''));
}

async function replay(
  file: string | undefined,
  dataDir: string | undefined,
  verbose: boolean,
  io: CliIO,
): Promise<number> {
  if (file === undefined) {
    io.stderr.write(`session-actors replay: which log? ${USAGE.split('\n')[2]!.trim()}\n`);
    return 2;
  }
  const header = readHeader(file);
  if (typeof header === 'string') {
    io.stderr.write(`session-actors replay: ${header}\n`);
    return 2;
  }
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'session-actors-replay-'));
  const bar = progressBar(io.stderr);
  let result: ReplayResult;
  try {
    result = await replayLog(file, { dataDir: dir, onProgress: (done, total) => bar.update(done, total) });
  } catch (error) {
    bar.clear();
    io.stderr.write(
      `session-actors replay: cannot replay ${file}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 2;
  } finally {
    bar.clear();
    if (dataDir === undefined) rmSync(dir, { recursive: true, force: true });
  }
  const started = new Date(header.startedAt).toISOString();
  io.stdout.write(
    `event log ${resolve(file)}\n  v${header.version}, started ${started}, ${result.events.length} records\n\n`,
  );
  printTimeline(io, header, result, verbose);
  io.stdout.write('\n');
  for (const line of summarizeTransitions(result.transitions)) io.stdout.write(`${line}\n`);
  // What the log recorded, read from all of it (a divergence stops the replayer early).
  let recordedTransitions = 0;
  let recordedDigest: string | null = null;
  for (const record of result.events) {
    if (record.k === 'tr') recordedTransitions++;
    else if (record.k === 'end') recordedDigest = record.digest;
  }
  if (recordedTransitions !== result.transitions.length)
    io.stdout.write(`  (the log recorded ${recordedTransitions} transitions)\n`);
  // The last record sits on line events.length + 1; a divergence before it stopped the replay there.
  const stoppedAt =
    result.divergence !== null && result.divergence.line <= result.events.length ? result.divergence.line : null;
  const partial = stoppedAt === null ? '' : `  (partial: the replay stopped at line ${stoppedAt})`;
  io.stdout.write(`\ndigest    ${result.digest}${partial}\n`);
  io.stdout.write(`recorded  ${recordedDigest ?? '(none: the log has no end record)'}\n`);
  if (dataDir !== undefined) io.stdout.write(`data dir  ${resolve(dataDir)}\n`);
  io.stdout.write('\n');
  if (result.divergence === null) {
    io.stdout.write(
      result.expected.digest === null
        ? 'replay matches the recorded run (transitions only: the run did not close, so there is no digest to compare)\n'
        : 'replay matches the recorded run\n',
    );
    return 0;
  }
  for (const line of formatDivergence(result.divergence, file, lineOf(file, result.divergence.line)))
    io.stdout.write(`${line}\n`);
  return 1;
}

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [command, ...rest] = argv;
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        data: { type: 'string' },
        log: { type: 'string' },
        format: { type: 'string', default: 'mermaid' },
        machine: { type: 'string', default: 'session' },
        verbose: { type: 'boolean', short: 'v', default: false },
      },
      allowPositionals: true,
    });
  } catch (error) {
    io.stderr.write(`session-actors: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  const values = parsed.values as {
    data?: string;
    log?: string;
    format: string;
    machine: string;
    verbose: boolean;
  };
  switch (command) {
    case 'demo': {
      const result = await runDemo({ dataDir: values.data, logPath: values.log });
      return result.delivered > 0 ? 0 : 1;
    }
    case 'replay':
      return replay(parsed.positionals[0], values.data, values.verbose, io);
    case 'status':
      await status(values.data ?? '.session-actors-demo', io);
      return 0;
    case 'viz': {
      const machine =
        values.machine === 'registry' ? registryMachine : values.machine === 'session' ? sessionMachine : undefined;
      if (machine === undefined || (values.format !== 'mermaid' && values.format !== 'json')) {
        io.stderr.write(`${USAGE}\n`);
        return 2;
      }
      io.stdout.write(
        values.format === 'json' ? `${JSON.stringify(toJSON(machine), null, 2)}\n` : `${toMermaid(machine)}\n`,
      );
      return 0;
    }
    default:
      io.stderr.write(`${USAGE}\n`);
      return command === undefined || command === '--help' || command === 'help' ? 0 : 2;
  }
}

/** True when this module is the script node was started with (directly or through a symlink). */
function isEntryModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryModule()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`session-actors: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
