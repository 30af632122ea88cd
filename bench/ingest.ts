/**
 * Ingest benchmark: the naive per-message host write path against `runtime.writeMessage`.
 *
 * What is compared, on real files, each run in a fresh temp data dir:
 *
 * (a) naive — for each message: open that session's `inbound.db` (better-sqlite3,
 *     `journal_mode=DELETE`), insert one row into `messages_in` with the next even seq inside one
 *     `BEGIN IMMEDIATE` transaction, close the file; then
 *     `UPDATE sessions SET last_active = ? WHERE id = ?` on the central `v2.db` through one
 *     connection that stays open for the whole run (as a naive host would keep it).
 * (b) `runtime.writeMessage` (driver `'none'`), every promise created synchronously in one loop,
 *     then awaited: the session mailboxes group-commit them.
 *
 * Fairness and durability:
 * - Both paths write session DBs with SQLite's default `synchronous` (FULL) and `journal_mode=DELETE`,
 *   so a message is on disk when (a) returns or (b)'s promise resolves.
 * - The naive central connection uses the same pragmas the runtime's central DB uses
 *   (WAL, persisted in the file by the runtime, and `synchronous=NORMAL`), so (a) is not slowed
 *   down by a stricter central setting than (b) has. (b) coalesces `last_active` into one central
 *   transaction per event-loop turn and does not wait for it before resolving; (a) writes it per
 *   message before the next message. `last_active` is checked after both runs.
 * - Session folders are created the same way for both: a runtime resolves N `per-thread` sessions
 *   (same agent group and messaging group, thread ids `t-0 … t-(N-1)`), which writes the central
 *   rows and both session DBs. For (a) that runtime is then closed and the naive host works on the
 *   files; for (b) the same runtime instance carries on (no session actor is live yet, so the
 *   burst includes activating each session actor, as after passivation).
 * - Messages are built before the clock starts and are identical for both paths; they arrive
 *   interleaved across sessions (message i of every session, then message i+1, …).
 * - A warm-up pass of both paths (throwaway dir) runs first so neither is measured cold-JIT.
 *
 * Checks (a failed check throws, so no number is reported for a broken run): after each run every
 * session's `messages_in` holds exactly the ids written, once each, in call order, with even,
 * strictly increasing seqs; for (b) the seq each promise resolved with is the stored one and none
 * is a duplicate; every session's central `last_active` is set; the runtime emitted no `error`.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createRuntime, type Runtime } from '../src/runtime/runtime.js';
import type { InboundMessage } from '../src/runtime/types.js';
import { nextEvenAbove } from '../src/store/seq.js';
import {
  collectGarbage,
  environment,
  log,
  markdownTable,
  median,
  percentile,
  round,
  writeResults,
  type BenchReport,
  type CommonBenchOptions,
} from './util.js';

export interface IngestBenchOptions extends CommonBenchOptions {
  /** Concurrent session counts, one case each. Default [1, 10, 100]. */
  sessionCounts?: number[];
  /** Messages per session per case. Default 1000 (quick: 50). */
  messagesPerSession?: number;
  /** Sequential single writes timed for the idle latency (after `idleWarmup`). Default 200 (quick: 40). */
  idleWrites?: number;
  /** Untimed single writes before the idle measurement. Default 20 (quick: 5). */
  idleWarmup?: number;
  /** Parent of the temp data dirs. Default `os.tmpdir()`. */
  tmpRoot?: string;
  /** Keep the temp data dirs (their paths are printed). */
  keepDirs?: boolean;
  /** JSON file name under bench/results/, or false. Default `ingest.json` (quick: `ingest.quick.json`). */
  resultsFile?: string | false;
}

/** Targets from the issue. */
export const INGEST_TARGETS = {
  /** (b)/(a) throughput at 100 sessions. */
  minSpeedupAt100: 30,
  /** Event-loop delay p99 during (b)'s burst, ms. */
  maxLoopP99Ms: 25,
  /** (b)/(a) median latency of a single write at idle. */
  maxIdleLatencyRatio: 1.2,
} as const;

export interface IngestCaseResult {
  sessions: number;
  messagesPerSession: number;
  totalMessages: number;
  naive: { ms: number; msgsPerSec: number };
  runtime: {
    ms: number;
    msgsPerSec: number;
    /** Time the synchronous loop creating every promise took (included in `ms`). */
    enqueueMs: number;
    /** monitorEventLoopDelay over the whole burst, the caller's enqueue loop included (the target). */
    loopDelay: {
      p50Ms: number;
      p99Ms: number;
      maxMs: number;
      meanMs: number;
      samples: number;
      idleMarginSamples: number;
    };
    /** Event-loop blocks after the enqueue loop returned: the runtime's own commits and settling. */
    afterEnqueue: { p99Ms: number; maxMs: number; samples: number };
  };
  /** runtime msgs/s ÷ naive msgs/s. */
  speedup: number;
}

export interface IngestIdleResult {
  writes: number;
  naive: { medianMs: number; p90Ms: number; p99Ms: number };
  runtime: { medianMs: number; p90Ms: number; p99Ms: number };
  /** runtime median ÷ naive median. */
  ratio: number;
}

export interface IngestResults {
  bench: 'ingest';
  quick: boolean;
  env: Record<string, unknown>;
  method: Record<string, string>;
  cases: IngestCaseResult[];
  idle: IngestIdleResult;
  targets: {
    speedupAt100: { target: number; actual: number | null; met: boolean | null };
    loopP99: { targetMs: number; worstMs: number; met: boolean };
    idleRatio: { target: number; actual: number; met: boolean };
  };
}

const AG = 'ag-bench';
const MG = 'mg-bench';
const TIMESTAMP = '2025-01-01T00:00:00.000Z';

interface SessionRef {
  index: number;
  id: string;
  inboundPath: string;
}

class BenchFailure extends Error {
  override readonly name = 'BenchFailure';
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new BenchFailure(message);
}

// ------------------------------------------------------------------------------- setup

function freshDir(root: string, label: string): string {
  return mkdtempSync(join(root, `sa-bench-ingest-${label}-`));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function removeDir(dir: string, keep: boolean | undefined, verbose: boolean | undefined): void {
  if (keep) log(verbose, `kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

/** A runtime over `dataDir` with `count` per-thread sessions (central rows + folders + both DBs). */
async function prepareSessions(dataDir: string, count: number): Promise<{ rt: Runtime; sessions: SessionRef[] }> {
  const rt = await createRuntime({ dataDir, driver: 'none' });
  await rt.upsertAgentGroup({ id: AG, name: 'Bench', folder: 'bench' });
  await rt.upsertMessagingGroup({ id: MG, channelType: 'bench', platformId: 'C-bench', name: 'bench' });
  const sessions: SessionRef[] = [];
  for (let s = 0; s < count; s++) {
    const { session, created } = await rt.resolveSession({
      agentGroupId: AG,
      messagingGroupId: MG,
      threadId: `t-${s}`,
      mode: 'per-thread',
    });
    check(created, `session for thread t-${s} was not newly created`);
    sessions.push({ index: s, id: session.id, inboundPath: rt.paths.inboundDbPath(AG, session.id) });
  }
  return { rt, sessions };
}

function messageId(s: number, i: number): string {
  return `m-${s}-${i}`;
}

function buildMessages(sessions: readonly SessionRef[], perSession: number): InboundMessage[][] {
  return sessions.map((s) =>
    Array.from({ length: perSession }, (_, i) => ({
      id: messageId(s.index, i),
      kind: 'chat',
      timestamp: TIMESTAMP,
      content: JSON.stringify({
        text: `message ${i} of thread t-${s.index}`,
        sender: 'bench-user',
        senderName: 'Bench',
      }),
      platformId: 'C-bench',
      channelType: 'bench',
      threadId: `t-${s.index}`,
    })),
  );
}

// ------------------------------------------------------------------------------- (a) naive host

const NAIVE_INSERT = `INSERT INTO messages_in (id, seq, kind, timestamp, status, process_after, recurrence, series_id,
    tries, trigger, platform_id, channel_type, thread_id, content, source_session_id, on_wake)
  VALUES (?, ?, ?, ?, 'pending', NULL, NULL, ?, 0, 1, ?, ?, ?, ?, NULL, 0)`;

/** The naive host: one open → insert → close of `inbound.db` per message, then a central UPDATE. */
class NaiveHost {
  private readonly central: Database.Database;
  private readonly touch: Database.Statement<[string, string]>;

  constructor(dataDir: string) {
    this.central = new Database(join(dataDir, 'v2.db'), { fileMustExist: true });
    this.central.pragma('busy_timeout = 5000');
    // Same settings as the runtime's own central connection (src/store/central.ts).
    this.central.pragma('journal_mode = WAL');
    this.central.pragma('synchronous = NORMAL');
    this.touch = this.central.prepare('UPDATE sessions SET last_active = ? WHERE id = ?');
  }

  write(session: SessionRef, m: InboundMessage): number {
    const db = new Database(session.inboundPath, { fileMustExist: true });
    let seq: number;
    try {
      db.pragma('journal_mode = DELETE');
      seq = db
        .transaction(() => {
          const { m: max } = db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM messages_in').get() as { m: number };
          const next = nextEvenAbove(max);
          db.prepare(NAIVE_INSERT).run(
            m.id,
            next,
            m.kind,
            m.timestamp,
            m.id,
            m.platformId ?? null,
            m.channelType ?? null,
            m.threadId ?? null,
            m.content,
          );
          return next;
        })
        .immediate();
    } finally {
      db.close();
    }
    this.touch.run(new Date().toISOString(), session.id);
    return seq;
  }

  close(): void {
    this.central.close();
  }
}

// ------------------------------------------------------------------------------- verification

/**
 * Every session holds exactly the `perSession` ids written, once each, in call order, with even,
 * strictly increasing seqs; `acked[s][i]`, when given, is the seq message i's promise resolved with.
 */
function verifyInbound(label: string, sessions: readonly SessionRef[], perSession: number, acked?: number[][]): void {
  for (const s of sessions) {
    const db = new Database(s.inboundPath, { readonly: true, fileMustExist: true });
    let rows: { id: string; seq: number }[];
    try {
      rows = db.prepare('SELECT id, seq FROM messages_in ORDER BY seq, id').all() as { id: string; seq: number }[];
    } finally {
      db.close();
    }
    check(rows.length === perSession, `${label}: session ${s.index} has ${rows.length} rows, expected ${perSession}`);
    let previous = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const expected = messageId(s.index, i);
      check(
        row.id === expected,
        `${label}: session ${s.index} row ${i} is ${row.id}, expected ${expected} (lost, duplicated or reordered)`,
      );
      check(
        Number.isInteger(row.seq) && row.seq % 2 === 0,
        `${label}: ${row.id} has odd or non-integer seq ${row.seq}`,
      );
      check(row.seq > previous, `${label}: ${row.id} seq ${row.seq} not above previous ${previous}`);
      previous = row.seq;
      if (acked !== undefined) {
        const ack = acked[s.index]?.[i];
        check(ack === row.seq, `${label}: ${row.id} acknowledged seq ${String(ack)} but stored ${row.seq}`);
      }
    }
  }
}

function verifyLastActive(label: string, dataDir: string, sessions: readonly SessionRef[]): void {
  const db = new Database(join(dataDir, 'v2.db'), { readonly: true, fileMustExist: true });
  try {
    const get = db.prepare('SELECT last_active FROM sessions WHERE id = ?');
    for (const s of sessions) {
      const row = get.get(s.id) as { last_active: string | null } | undefined;
      check(row !== undefined && row.last_active !== null, `${label}: session ${s.index} has no last_active in v2.db`);
    }
  } finally {
    db.close();
  }
}

// ------------------------------------------------------------------------------- burst runs

/** (a): all calls started at once; each runs synchronously to completion, in arrival order. */
async function runNaive(dataDir: string, sessions: SessionRef[], messages: InboundMessage[][], perSession: number) {
  const host = new NaiveHost(dataDir);
  const write = async (s: SessionRef, m: InboundMessage) => host.write(s, m);
  try {
    collectGarbage();
    const t0 = performance.now();
    const promises: Promise<number>[] = [];
    for (let i = 0; i < perSession; i++) for (const s of sessions) promises.push(write(s, messages[s.index]![i]!));
    await Promise.all(promises);
    const ms = performance.now() - t0;
    return { ms };
  } finally {
    host.close();
  }
}

/**
 * Event-loop blocks from now on, measured without the histogram's first-tick blind spot: a 1 ms
 * interval records how late each tick is (gap − 1 ms); the first gap counts from the start, the
 * last from the final tick to `stop()`. Used to tell the runtime's own blocks (commits, settling)
 * apart from the caller's synchronous enqueue loop, which the histogram also sees.
 */
function startBlockSampler(): { stop(): number[] } {
  const delays: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    delays.push(Math.max(0, now - last - 1));
    last = now;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      delays.push(Math.max(0, performance.now() - last - 1));
      return delays;
    },
  };
}

/** (b): every promise created synchronously, then awaited; the event loop is monitored meanwhile. */
async function runRuntime(rt: Runtime, sessions: SessionRef[], messages: InboundMessage[][], perSession: number) {
  const errors: unknown[] = [];
  const onError = (e: { error: Error }) => errors.push(e.error);
  rt.on('error', onError);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const promises: Promise<{ seq: number; duplicate: boolean }>[] = new Array(perSession * sessions.length);
  // The histogram's timer only records from its second tick on (the first sets the baseline), and
  // a block is recorded when the tick after it fires: so let one tick pass before the burst and one
  // after it settles. Both margins are idle ~1 ms samples; `samples` says how many were taken.
  collectGarbage();
  histogram.enable();
  await sleep(2);
  const idleSamples = histogram.count;
  const t0 = performance.now();
  let k = 0;
  for (let i = 0; i < perSession; i++)
    for (const s of sessions) promises[k++] = rt.writeMessage(s.id, messages[s.index]![i]!);
  const enqueueMs = performance.now() - t0;
  const afterEnqueue = startBlockSampler();
  const results = await Promise.all(promises);
  const ms = performance.now() - t0;
  const blocks = afterEnqueue.stop();
  await sleep(1);
  histogram.disable();
  rt.off('error', onError);
  check(errors.length === 0, `runtime reported ${errors.length} error event(s): ${String(errors[0])}`);

  const acked: number[][] = sessions.map(() => new Array<number>(perSession));
  k = 0;
  for (let i = 0; i < perSession; i++) {
    for (const s of sessions) {
      const r = results[k++]!;
      check(!r.duplicate, `runtime: ${messageId(s.index, i)} resolved as a duplicate`);
      acked[s.index]![i] = r.seq;
    }
  }
  const ns = (v: number) => round(v / 1e6, 2);
  return {
    ms,
    enqueueMs,
    acked,
    loopDelay: {
      p50Ms: ns(histogram.percentile(50)),
      p99Ms: ns(histogram.percentile(99)),
      maxMs: ns(histogram.max),
      meanMs: Number.isNaN(histogram.mean) ? 0 : ns(histogram.mean),
      samples: histogram.count,
      idleMarginSamples: idleSamples + 1,
    },
    afterEnqueue: {
      p99Ms: round(percentile(blocks, 99), 2),
      maxMs: round(Math.max(0, ...blocks), 2),
      samples: blocks.length,
    },
  };
}

async function runCase(
  count: number,
  perSession: number,
  opts: IngestBenchOptions,
  root: string,
): Promise<IngestCaseResult> {
  const total = count * perSession;

  // (a) naive
  const dirA = freshDir(root, `naive-${count}`);
  let naiveMs: number;
  try {
    const { rt, sessions } = await prepareSessions(dirA, count);
    await rt.close();
    const messages = buildMessages(sessions, perSession);
    log(opts.verbose, `ingest: ${count} session(s) × ${perSession}: naive …`);
    ({ ms: naiveMs } = await runNaive(dirA, sessions, messages, perSession));
    verifyInbound(`naive ${count}×${perSession}`, sessions, perSession);
    verifyLastActive(`naive ${count}×${perSession}`, dirA, sessions);
  } finally {
    removeDir(dirA, opts.keepDirs, opts.verbose);
  }

  // (b) runtime
  const dirB = freshDir(root, `runtime-${count}`);
  try {
    const { rt, sessions } = await prepareSessions(dirB, count);
    const messages = buildMessages(sessions, perSession);
    log(opts.verbose, `ingest: ${count} session(s) × ${perSession}: runtime …`);
    let run: Awaited<ReturnType<typeof runRuntime>>;
    try {
      run = await runRuntime(rt, sessions, messages, perSession);
    } finally {
      await rt.close();
    }
    verifyInbound(`runtime ${count}×${perSession}`, sessions, perSession, run.acked);
    verifyLastActive(`runtime ${count}×${perSession}`, dirB, sessions);
    const naivePerSec = total / (naiveMs / 1000);
    const runtimePerSec = total / (run.ms / 1000);
    return {
      sessions: count,
      messagesPerSession: perSession,
      totalMessages: total,
      naive: { ms: round(naiveMs, 1), msgsPerSec: Math.round(naivePerSec) },
      runtime: {
        ms: round(run.ms, 1),
        msgsPerSec: Math.round(runtimePerSec),
        enqueueMs: round(run.enqueueMs, 1),
        loopDelay: run.loopDelay,
        afterEnqueue: run.afterEnqueue,
      },
      speedup: round(runtimePerSec / naivePerSec, 2),
    };
  } finally {
    removeDir(dirB, opts.keepDirs, opts.verbose);
  }
}

// ------------------------------------------------------------------------------- idle latency

function latencyStats(samples: number[]) {
  return {
    medianMs: round(median(samples), 3),
    p90Ms: round(percentile(samples, 90), 3),
    p99Ms: round(percentile(samples, 99), 3),
  };
}

/**
 * Sequential single writes, (a) and (b) alternating write by write (each in its own fresh data dir
 * and session), so that background load drifting during the run hits both alike. One
 * `setImmediate` turn (untimed) separates consecutive writes; (b) also gets its coalesced
 * `last_active` flush done there or at the start of its next write, as in real use.
 */
async function runIdle(
  writes: number,
  warmup: number,
  opts: IngestBenchOptions,
  root: string,
): Promise<IngestIdleResult> {
  const n = warmup + writes;
  const dirA = freshDir(root, 'idle-naive');
  const dirB = freshDir(root, 'idle-runtime');
  const naiveSamples: number[] = [];
  const runtimeSamples: number[] = [];
  try {
    const a = await prepareSessions(dirA, 1);
    await a.rt.close();
    const b = await prepareSessions(dirB, 1);
    const sessionA = a.sessions[0]!;
    const sessionB = b.sessions[0]!;
    const messagesA = buildMessages(a.sessions, n)[0]!;
    const messagesB = buildMessages(b.sessions, n)[0]!;
    const acked: number[][] = [[]];
    const errors: unknown[] = [];
    b.rt.on('error', (e) => errors.push(e.error));
    const host = new NaiveHost(dirA);
    collectGarbage();
    try {
      for (let i = 0; i < n; i++) {
        let t0 = performance.now();
        host.write(sessionA, messagesA[i]!);
        const da = performance.now() - t0;
        await turn();
        t0 = performance.now();
        const r = await b.rt.writeMessage(sessionB.id, messagesB[i]!);
        const db = performance.now() - t0;
        await turn();
        check(!r.duplicate, `idle runtime: ${messagesB[i]!.id} resolved as a duplicate`);
        acked[0]!.push(r.seq);
        if (i >= warmup) {
          naiveSamples.push(da);
          runtimeSamples.push(db);
        }
      }
    } finally {
      host.close();
      await b.rt.close();
    }
    check(errors.length === 0, `idle runtime reported ${errors.length} error event(s): ${String(errors[0])}`);
    verifyInbound('idle naive', a.sessions, n);
    verifyInbound('idle runtime', b.sessions, n, acked);
    verifyLastActive('idle naive', dirA, a.sessions);
    verifyLastActive('idle runtime', dirB, b.sessions);
  } finally {
    removeDir(dirA, opts.keepDirs, opts.verbose);
    removeDir(dirB, opts.keepDirs, opts.verbose);
  }
  const naive = latencyStats(naiveSamples);
  const runtime = latencyStats(runtimeSamples);
  return { writes, naive, runtime, ratio: round(median(runtimeSamples) / median(naiveSamples), 3) };
}

// ------------------------------------------------------------------------------- entry point

function renderMarkdown(r: IngestResults): string {
  const t = INGEST_TARGETS;
  const yes = (b: boolean | null) => (b === null ? 'n/a' : b ? 'yes' : '**NO**');
  const burst = markdownTable(
    [
      'sessions',
      'msgs',
      '(a) naive msg/s',
      '(b) runtime msg/s',
      'b/a',
      '(b) enqueue ms',
      '(b) loop p99 ms',
      '(b) loop max ms',
      '(b) loop samples',
      '(b) max block after enqueue ms',
      `p99 ≤ ${t.maxLoopP99Ms}`,
    ],
    r.cases.map((c) => [
      c.sessions,
      c.totalMessages,
      c.naive.msgsPerSec,
      c.runtime.msgsPerSec,
      `${c.speedup}×`,
      c.runtime.enqueueMs,
      c.runtime.loopDelay.p99Ms,
      c.runtime.loopDelay.maxMs,
      c.runtime.loopDelay.samples,
      c.runtime.afterEnqueue.maxMs,
      yes(c.runtime.loopDelay.p99Ms <= t.maxLoopP99Ms),
    ]),
  );
  const idle = markdownTable(
    ['single write at idle', 'median ms', 'p90 ms', 'p99 ms'],
    [
      ['(a) naive', r.idle.naive.medianMs, r.idle.naive.p90Ms, r.idle.naive.p99Ms],
      ['(b) runtime', r.idle.runtime.medianMs, r.idle.runtime.p90Ms, r.idle.runtime.p99Ms],
    ],
  );
  const targets = markdownTable(
    ['target', 'wanted', 'got', 'met'],
    [
      [
        'b/a at 100 sessions',
        `≥ ${t.minSpeedupAt100}×`,
        r.targets.speedupAt100.actual === null ? 'not run' : `${r.targets.speedupAt100.actual}×`,
        yes(r.targets.speedupAt100.met),
      ],
      [
        '(b) event-loop p99 (worst case)',
        `≤ ${t.maxLoopP99Ms} ms`,
        `${r.targets.loopP99.worstMs} ms`,
        yes(r.targets.loopP99.met),
      ],
      [
        'idle latency b/a (median)',
        `≤ ${t.maxIdleLatencyRatio}`,
        `${r.targets.idleRatio.actual}`,
        yes(r.targets.idleRatio.met),
      ],
    ],
  );
  const env = r.env;
  return [
    `### ingest${r.quick ? ' (quick)' : ''} — node ${String(env.node)}, ${String(env.cpuModel)} × ${String(env.cpuCount)}, ${String(env.date)}`,
    '',
    burst,
    '',
    `Idle latency over ${r.idle.writes} sequential single writes (ratio b/a = ${r.idle.ratio}):`,
    '',
    idle,
    '',
    targets,
  ].join('\n');
}

export async function runIngestBench(opts: IngestBenchOptions = {}): Promise<BenchReport & { results: IngestResults }> {
  const quick = opts.quick ?? false;
  const counts = opts.sessionCounts ?? [1, 10, 100];
  const perSession = opts.messagesPerSession ?? (quick ? 50 : 1000);
  const idleWrites = opts.idleWrites ?? (quick ? 40 : 200);
  const idleWarmup = opts.idleWarmup ?? (quick ? 5 : 20);
  const root = opts.tmpRoot ?? tmpdir();
  const gcBeforePhases = collectGarbage();
  for (const c of counts) check(Number.isInteger(c) && c > 0, `bad session count ${c}`);
  check(Number.isInteger(perSession) && perSession > 0, `bad messages per session ${perSession}`);

  // Warm-up (not reported): both paths, so neither case is measured on cold JIT.
  log(opts.verbose, 'ingest: warm-up …');
  await runCase(2, quick ? 20 : 200, { ...opts, keepDirs: false, verbose: false }, root);

  const cases: IngestCaseResult[] = [];
  for (const count of counts) cases.push(await runCase(count, perSession, opts, root));
  log(opts.verbose, `ingest: idle latency (${idleWrites} writes) …`);
  const idle = await runIdle(idleWrites, idleWarmup, opts, root);

  const at100 = cases.find((c) => c.sessions === 100);
  const worstP99 = Math.max(...cases.map((c) => c.runtime.loopDelay.p99Ms));
  const results: IngestResults = {
    bench: 'ingest',
    quick,
    env: environment(),
    method: {
      naive:
        'per message: new Database(inbound.db) + journal_mode=DELETE + BEGIN IMMEDIATE (SELECT MAX(seq); INSERT) COMMIT + close, then UPDATE sessions SET last_active on a kept-open v2.db connection (WAL, synchronous=NORMAL, as the runtime)',
      runtime: "createRuntime({ driver: 'none' }); all writeMessage promises created synchronously, then Promise.all",
      sessions:
        'per-thread sessions (one agent group, one messaging group, thread ids t-0..t-N-1) created with rt.resolveSession in both paths',
      durability: 'session DBs: default synchronous (FULL), journal_mode=DELETE in both paths',
      order:
        'interleaved arrival: message i of every session, then message i+1; naive first, then runtime, fresh temp dir each',
      loopDelay:
        'monitorEventLoopDelay({ resolution: 1 }) enabled for the burst only (first writeMessage call to Promise.all settling), plus one ~2 ms idle margin before and one timer tick after so the first and last blocks are recorded',
      idle: `${idleWarmup} untimed + ${idleWrites} timed sequential single writes to one session, fresh dir each, (a) and (b) alternating write by write with one untimed setImmediate turn after each`,
      gc: gcBeforePhases
        ? 'a full garbage collection (node --expose-gc) before each timed phase, so no phase pays for the garbage of the one before; garbage made during a phase is collected and measured within it'
        : 'no --expose-gc: phases may pay for garbage left by earlier phases',
    },
    cases,
    idle,
    targets: {
      speedupAt100: {
        target: INGEST_TARGETS.minSpeedupAt100,
        actual: at100?.speedup ?? null,
        met: at100 === undefined ? null : at100.speedup >= INGEST_TARGETS.minSpeedupAt100,
      },
      loopP99: {
        targetMs: INGEST_TARGETS.maxLoopP99Ms,
        worstMs: worstP99,
        met: worstP99 <= INGEST_TARGETS.maxLoopP99Ms,
      },
      idleRatio: {
        target: INGEST_TARGETS.maxIdleLatencyRatio,
        actual: idle.ratio,
        met: idle.ratio <= INGEST_TARGETS.maxIdleLatencyRatio,
      },
    },
  };

  const fileName = opts.resultsFile ?? (quick ? 'ingest.quick.json' : 'ingest.json');
  const resultsPath = fileName === false ? undefined : writeResults(fileName, results);
  const targetsMet =
    results.targets.speedupAt100.met !== false && results.targets.loopP99.met && results.targets.idleRatio.met;
  const report: BenchReport & { results: IngestResults } = { markdown: renderMarkdown(results), targetsMet, results };
  if (resultsPath !== undefined) report.resultsPath = resultsPath;
  return report;
}
