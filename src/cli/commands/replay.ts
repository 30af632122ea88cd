/**
 * `session-actors replay FILE`: replays an event log and prints its timeline, the transitions and
 * the digest; exit 0 when the replay matches the recorded run, 1 when it diverges, 2 when the
 * file is not a replayable log (test/cli/replay.test.ts). With `--machine PATH`, the what-if
 * report of the session machine that module exports follows, and a session that departs from the
 * recorded behaviour also exits 1 (test/eventlog/what-if-cli.test.ts).
 *
 * Without `--data` the replay runs in a temporary directory that is removed afterwards.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LogHeader } from '../../eventlog/format.js';
import { loadMachine } from '../../eventlog/load-machine.js';
import { replayLog, type ReplayResult } from '../../eventlog/replay.js';
import {
  describeRecord,
  formatDivergence,
  formatEntry,
  summarizeTransitions,
  type DescribeContext,
} from '../../eventlog/timeline.js';
import { formatWhatIf } from '../../eventlog/what-if.js';
import { defineCommand, UsageError } from '../command.js';
import type { CliIO } from '../io.js';
import { readLogHeader } from '../log-header.js';
import { progressBar } from '../progress-bar.js';
import { replayDashboard } from '../replay-dashboard.js';
import { parsePort, PORT_OPTION } from '../serve-dashboard.js';

/** The text of one line of a file (1-based), for the divergence report. */
function lineOf(path: string, line: number): string | undefined {
  try {
    return readFileSync(path, 'utf8').split('\n')[line - 1];
  } catch {
    // The report is complete without the quoted line.
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

export const replay = defineCommand({
  name: 'replay',
  summary: 'Replays an event log: timeline, transitions and digest; exit 1 when it diverges from the run.',
  positionals: [{ name: 'FILE', description: 'the event log (JSONL) to replay', required: true }],
  options: {
    data: { type: 'string', value: 'DIR', description: 'replay into this empty directory and keep it' },
    verbose: { type: 'boolean', short: 'v', description: 'also show routine records (turns, timers, quiet polls)' },
    machine: {
      type: 'string',
      value: 'PATH',
      description: 'what-if: also run the session machine this module exports; exit 1 if a session departs',
    },
    dashboard: { type: 'boolean', description: 'step through the log in the browser (timeline scrubber) until Ctrl-C' },
    port: PORT_OPTION,
  },
  async run({ values, positionals }, { io, style }) {
    const file = positionals[0]!;
    const header = readLogHeader(file);
    if (typeof header === 'string') throw new UsageError(header);
    const port = parsePort(values.port);
    if (values.dashboard) {
      if (values.machine !== undefined) throw new UsageError('--machine cannot be combined with --dashboard');
      return replayDashboard(file, { dataDir: values.data, port }, io);
    }
    if (values.port !== undefined) throw new UsageError('--port needs --dashboard');
    const machine =
      values.machine === undefined
        ? undefined
        : await loadMachine(values.machine).catch((error: Error) => {
            throw new UsageError(error.message);
          });
    const dir = values.data ?? mkdtempSync(join(tmpdir(), 'session-actors-replay-'));
    const bar = progressBar(io.stderr, 'replaying', 'records');
    let result: ReplayResult;
    try {
      result = await replayLog(file, { dataDir: dir, machine, onProgress: (done, total) => bar.update(done, total) });
    } catch (error) {
      throw new UsageError(`cannot replay ${file}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      bar.clear();
      if (values.data === undefined) rmSync(dir, { recursive: true, force: true });
    }
    const started = new Date(header.startedAt).toISOString();
    io.stdout.write(
      `event log ${resolve(file)}\n  v${header.version}, started ${started}, ${result.events.length} records\n\n`,
    );
    printTimeline(io, header, result, values.verbose);
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
    if (values.data !== undefined) io.stdout.write(`data dir  ${resolve(values.data)}\n`);
    io.stdout.write('\n');
    const departs = (result.whatIf?.departures.length ?? 0) > 0;
    if (result.whatIf !== null) {
      const [headline, ...details] = formatWhatIf(result.whatIf, values.machine!);
      io.stdout.write(`${departs ? style.red(headline!) : style.green(headline!)}\n`);
      for (const line of details) io.stdout.write(`${line}\n`);
      io.stdout.write('\n');
    }
    if (result.divergence === null) {
      io.stdout.write(
        style.green(
          result.expected.digest === null
            ? 'replay matches the recorded run (transitions only: the run did not close, so there is no digest to compare)'
            : 'replay matches the recorded run',
        ) + '\n',
      );
      return departs ? 1 : 0;
    }
    const [headline, ...details] = formatDivergence(result.divergence, file, lineOf(file, result.divergence.line));
    io.stdout.write(`${style.red(headline!)}\n`);
    for (const line of details) io.stdout.write(`${line}\n`);
    return 1;
  },
});
