/**
 * Replay benchmark: `replayLog` throughput over an event log recorded from a real runtime run.
 *
 * The log (not timed): one runtime (`createRuntime` with a scripted fake container driver, a
 * simulated clock and sequential ids) records `eventLog` while, round after round, every one of
 * `sessions` per-thread sessions receives a burst of `burst` `writeMessage` calls (all created in
 * one synchronous loop, so the mailboxes group-commit them). Every third round adds a duplicate
 * write per session and a rejected call; every fourth round wakes every fifth session, lets the
 * simulated clock fire two polls, and stops them again (start, polls, `container.observed`, stop,
 * exit, sweep); once, halfway, the clock jumps past `passivateMs` so every actor is passivated
 * and re-activated by the next burst. Rounds continue until the log holds `targetRecords`
 * records; then the runtime closes (the `end` record carries the digest).
 *
 * Measured, in each of the runs (three by default): wall time of `replayLog(log, { dataDir:
 * <fresh empty dir> })`, which includes parsing the log, re-running every record and the final
 * `digestDataDir`; baseline, timed just before in the same run: `readLog` alone (no replay can be
 * faster than reading its log). `digestDataDir` of the replayed directory is timed apart for the
 * breakdown.
 *
 * Checks (a failed check throws, so no number is reported for a broken replay): every run has
 * `divergence === null`, its digest equals the one the log's `end` record holds, and its
 * transitions equal the recorded ones.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SimulatedClock } from 'xstate';
import type { ContainerDriver, ContainerExitInfo, ContainerHandle } from '../src/container/driver.js';
import { digestDataDir } from '../src/eventlog/digest.js';
import { readLog } from '../src/eventlog/read-log.js';
import { replayLog } from '../src/eventlog/replay.js';
import { sequentialIds } from '../src/runtime/clock.js';
import { createRuntime } from '../src/runtime/runtime.js';
import type { InboundMessage } from '../src/runtime/types.js';
import { Runs, type FigureDef } from './figures.js';
import { check, DEFAULT_RUNS, finishReport, log, type BenchReport, type CommonBenchOptions } from './util.js';

export interface ReplayBenchOptions extends CommonBenchOptions {
  /** Minimum records in the generated log. Default 100,000 (quick: 5,000). */
  targetRecords?: number;
  /** Sessions written to in every round. Default 100 (quick: 20). */
  sessions?: number;
  /** `writeMessage` calls per session per round. Default 20. */
  burst?: number;
}

/** Target from issue 12: replay throughput on the 100-session log. */
export const REPLAY_TARGETS = { minRecordsPerSec: 50_000 } as const;

const FIGURES: readonly FigureDef[] = [
  {
    key: 'replay.rate',
    label: 'replayLog throughput (parse + re-run + digest)',
    unit: 'records/s',
    better: 'higher',
    baseline: 'readLog alone (parse)',
    target: { on: 'value', op: '>=', threshold: REPLAY_TARGETS.minRecordsPerSec },
  },
];

const T0 = Date.UTC(2026, 0, 1);
const AG = 'ag-bench';
const MG = 'mg-bench';
const POLL_MS = 1000;
const PASSIVATE_MS = 600_000;

/** A scripted container: up at once, never touches the session folder, exits (code 0) when stopped. */
function scriptedDriver(): ContainerDriver & { started: number } {
  const driver = {
    started: 0,
    async start(): Promise<ContainerHandle> {
      driver.started++;
      const listeners: ((info: ContainerExitInfo) => void)[] = [];
      let exited: ContainerExitInfo | undefined;
      return {
        async stop() {
          if (exited !== undefined) return;
          exited = { code: 0, signal: null };
          for (const cb of listeners.splice(0)) cb(exited);
        },
        onExit(cb) {
          if (exited !== undefined) cb(exited);
          else listeners.push(cb);
        },
      };
    },
  };
  return driver;
}

function countLines(path: string): number {
  const buffer = readFileSync(path);
  let n = 0;
  for (let i = buffer.indexOf(10); i !== -1; i = buffer.indexOf(10, i + 1)) n++;
  return n;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Records the benchmark's log at `logPath`; returns what went into it. */
async function generateLog(
  dataDir: string,
  logPath: string,
  opts: { targetRecords: number; sessions: number; burst: number; verbose: boolean | undefined },
): Promise<{ rounds: number; writeMessageCalls: number; sessions: number }> {
  const clock = new SimulatedClock();
  clock.set(T0);
  const driver = scriptedDriver();
  const rt = await createRuntime({
    dataDir,
    driver,
    clock,
    ids: sequentialIds(),
    eventLog: logPath,
    autoWake: false,
    pollMs: POLL_MS,
    idleStopMs: 60_000,
    passivateMs: PASSIVATE_MS,
  });
  let errors = 0;
  rt.on('error', () => errors++);
  await rt.upsertAgentGroup({ id: AG, name: 'Bench' });
  await rt.upsertMessagingGroup({ id: MG, channelType: 'bench', platformId: 'C-bench' });
  const ids: string[] = [];
  for (let s = 0; s < opts.sessions; s++) {
    const { session } = await rt.resolveSession({
      agentGroupId: AG,
      messagingGroupId: MG,
      threadId: `t-${s}`,
      mode: 'per-thread',
    });
    ids.push(session.id);
  }
  const message = (s: number, id: string): InboundMessage => ({
    id,
    kind: 'chat',
    timestamp: new Date(clock.now()).toISOString(),
    content: JSON.stringify({ text: `message ${id} of thread t-${s}`, sender: 'bench-user' }),
    platformId: 'C-bench',
    channelType: 'bench',
    threadId: `t-${s}`,
    trigger: 0,
  });

  let writeMessageCalls = 0;
  let passivated = false;
  let round = 0;
  for (; ; round++) {
    // A burst: every session's writes created in one synchronous loop.
    const writes: Promise<unknown>[] = [];
    for (let s = 0; s < ids.length; s++) {
      for (let i = 0; i < opts.burst; i++) writes.push(rt.writeMessage(ids[s]!, message(s, `m-${round}-${s}-${i}`)));
      if (round % 3 === 2) {
        // A duplicate of an earlier write, and a call the runtime rejects.
        writes.push(rt.writeMessage(ids[s]!, message(s, `m-${round - 1}-${s}-0`)));
        writes.push(rt.writeMessage('not a/valid id', message(s, `bad-${round}-${s}`)).catch(() => undefined));
        writeMessageCalls += 2;
      }
      writeMessageCalls += opts.burst;
    }
    await Promise.all(writes);

    if (round % 4 === 3) {
      const woken = ids.filter((_, s) => s % 5 === round % 5);
      await Promise.all(woken.map((id) => rt.wake(id)));
      for (let p = 0; p < 2; p++) {
        clock.increment(POLL_MS);
        await turn();
        // A mailbox operation queued after the poll: resolves once the poll is committed.
        await Promise.all(woken.map((id) => rt.messageCounts(id)));
      }
      await Promise.all(woken.map((id) => rt.stop(id, 'bench round done')));
    }
    clock.increment(10);

    const records = countLines(logPath) - 1;
    if (!passivated && records >= opts.targetRecords / 2) {
      // Every container is stopped: the jump lets every actor passivate; the next burst re-activates them.
      clock.increment(PASSIVATE_MS + 1);
      for (let i = 0; i < 5; i++) await turn();
      passivated = true;
    }
    if (round % 10 === 0) log(opts.verbose, `replay: generating the log, round ${round}: ${records} records`);
    if (records >= opts.targetRecords && passivated) break;
  }
  await rt.close();
  check(errors === 0, `the recorded run emitted ${errors} error events`);
  check(driver.started > 0, 'the recorded run started no container');
  return { rounds: round + 1, writeMessageCalls, sessions: ids.length };
}

export async function runReplayBench(opts: ReplayBenchOptions = {}): Promise<BenchReport> {
  const quick = opts.quick === true;
  const targetRecords = opts.targetRecords ?? (quick ? 5_000 : 100_000);
  const sessions = opts.sessions ?? (quick ? 20 : 100);
  const burst = opts.burst ?? 20;
  const runCount = opts.runs ?? DEFAULT_RUNS;
  const root = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), 'sa-bench-replay-'));
  const logPath = join(root, 'events.log');
  try {
    log(opts.verbose, `replay: recording a log of at least ${targetRecords} records (${sessions} sessions) in ${root}`);
    const genStart = performance.now();
    const generated = await generateLog(join(root, 'recorded'), logPath, {
      targetRecords,
      sessions,
      burst,
      verbose: opts.verbose,
    });
    const generationSeconds = (performance.now() - genStart) / 1000;

    const { records } = readLog(logPath);
    const byKind: Record<string, number> = {};
    let commits = 0;
    let recordedDigest: string | undefined;
    for (const r of records) {
      byKind[r.k] = (byKind[r.k] ?? 0) + 1;
      if (r.k === 'ev' && r.e.type === 'mailbox.committed') commits++;
      if (r.k === 'end') recordedDigest = r.digest;
    }
    const recordedTransitions = records.filter((r) => r.k === 'tr').length;
    check(records.length >= targetRecords, `the log holds ${records.length} records, fewer than ${targetRecords}`);
    check(recordedDigest !== undefined, 'the log has no end record');
    log(opts.verbose, `replay: ${records.length} records, ${commits} commits; replaying ${runCount}×`);

    const runs = new Runs();
    const details: unknown[] = [];
    for (let run = 1; run <= runCount; run++) {
      const parseStart = performance.now();
      const parsed = readLog(logPath).records.length;
      const parseSeconds = (performance.now() - parseStart) / 1000;
      const dataDir = join(root, `replayed-${run}`);
      const start = performance.now();
      const result = await replayLog(logPath, { dataDir });
      const elapsed = (performance.now() - start) / 1000;
      check(
        result.divergence === null,
        `replay diverged at line ${result.divergence?.line}: ${result.divergence?.what}`,
      );
      check(result.digest === recordedDigest, 'the replayed digest differs from the recorded one');
      check(
        JSON.stringify(result.transitions) === JSON.stringify(result.expected.transitions) &&
          result.transitions.length === recordedTransitions,
        'the replayed transitions differ from the recorded ones',
      );
      const digestStart = performance.now();
      digestDataDir(dataDir);
      const digestSeconds = (performance.now() - digestStart) / 1000;
      runs.add('replay.rate', { value: records.length / elapsed, baseline: parsed / parseSeconds });
      details.push({ seconds: elapsed, parseSeconds, digestSeconds, commitsPerSec: commits / elapsed });
      log(
        opts.verbose,
        `replay: run ${run}: ${elapsed.toFixed(3)} s, ${Math.round(records.length / elapsed)} records/s`,
      );
      if (!opts.keepDirs) rmSync(dataDir, { recursive: true, force: true });
    }
    if (opts.keepDirs) log(opts.verbose, `kept ${root}`);
    return finishReport(opts, {
      bench: 'replay',
      quick,
      runs: runCount,
      method: {
        log: `createRuntime({ driver: scripted fake container, clock: SimulatedClock, ids: sequentialIds(), autoWake: false, pollMs: ${POLL_MS} }); rounds of ${burst} writeMessage per session for ${sessions} per-thread sessions (one synchronous burst per round); every 3rd round a duplicate and a rejected call per session; every 4th round every 5th session woken, two polls, stopped; one passivation of every actor halfway`,
        measured:
          'wall time of replayLog(log, { dataDir: fresh empty dir }): parse + re-run + final digest; baseline: readLog(log) alone, timed in the same run just before',
        checks: 'divergence === null, digest === the end record digest, transitions === the recorded ones',
        tmpRoot: `log and replayed data dirs under ${opts.tmpRoot ?? tmpdir()}`,
      },
      figures: runs.figures(FIGURES),
      details: {
        log: {
          records: records.length,
          bytes: statSync(logPath).size,
          sessions: generated.sessions,
          rounds: generated.rounds,
          writeMessageCalls: generated.writeMessageCalls,
          commits,
          transitions: recordedTransitions,
          recordsByKind: byKind,
          generationSeconds,
        },
        runs: details,
      },
    });
  } finally {
    if (!opts.keepDirs) rmSync(root, { recursive: true, force: true });
  }
}
