/**
 * Poll cost benchmark (issue 9 item 3): a poll costs what is new, not what is there. One session's
 * `messages_out` holds N settled rows (N = 100, 1,000, 10,000, 100,000), one of them a settled
 * 50 MB row recorded `failed`; each measured poll has exactly one new row to deliver.
 *
 * Data set, built once per N (outside every timed part): the session is created by the runtime
 * (`resolveSession`, then `close()`); the N rows go into `outbound.db` in one transaction by direct
 * SQL (odd seqs, ~80 B of JSON each; the 50 MB row in the middle, its content made by SQLite), and
 * their `delivered` records plus the poll watermark (`host_outbound_progress`, the last rowid) into
 * `inbound.db` in one transaction through the store's own `recordDelivery` and
 * `writeOutboundProgress` — the state a runtime leaves once it has settled them. No catch-up poll
 * is measured.
 *
 * Per run and per N:
 * (a) thread — `runJob` (src/runtime/commit-worker.ts), the function a commit thread runs, called
 *     on this thread with a batch of one `pollOutbound`: the whole poll (open, watermark, scan,
 *     acks, container_state, heartbeat, close). Before each poll the test, playing the container,
 *     writes one new row; after it, the row is recorded delivered (untimed). First, a poll that
 *     finds a fresh 50 MB row to refuse: its time, and the size of the reply the thread would send
 *     (JSON text, as posted), which must not hold the content.
 * (b) runtime — `createRuntime({ driver: 'none', channels: { bench } })` over the data set:
 *     `writeOutboundDirect` with the container stopped (one odd-seq row into `outbound.db`, then a
 *     poll through the mailbox on a commit thread) until `outbound.delivered`, one at a time; the
 *     event-loop delay over those calls (bench/loop-delay.ts). First, the same call while a fresh
 *     50 MB row waits to be refused by that poll.
 *
 * Invariants:
 * 1. Every measured poll returns exactly its one new row (thread) or delivers exactly the written
 *    message (runtime); a refused 50 MB row is refused as `oversized`, recorded `failed` with its
 *    reason in `host_delivery_errors`, and never reaches a reply, an adapter or an event; no
 *    `error` event, no `outbound.failed` but the refusals. A failed check throws: no number is
 *    reported.
 * 2. Building, checking and recording are outside every timed part; a full garbage collection
 *    (node --expose-gc) precedes each timed phase.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRuntime, type ChannelAdapter, type Runtime } from '../src/index.js';
import { runJob, type CommitJob, type JobEnv } from '../src/runtime/commit-worker.js';
import { encodeOps, encodeResults } from '../src/runtime/job-codec.js';
import { DEFAULT_POLL_LIMITS, type PollResult } from '../src/runtime/ops/types.js';
import { readOutboundProgress, writeOutboundProgress } from '../src/store/host-tables.js';
import { recordDelivery } from '../src/store/inbound.js';
import { Runs, type FigureDef } from './figures.js';
import { watchLoopDelay } from './loop-delay.js';
import {
  check,
  collectGarbage,
  DEFAULT_RUNS,
  finishReport,
  log,
  percentile,
  round,
  withTimeout,
  type BenchReport,
  type CommonBenchOptions,
} from './util.js';

export const POLL_TARGETS = {
  /** One poll over 100,000 settled rows ÷ one poll over 100 (thread and runtime alike). */
  maxRatio: 2,
  /** What a thread sends back for a poll that refused a 50 MB row. */
  maxRefusalReplyBytes: 64 * 1024,
} as const;

export const POLL_SIZES = [100, 1_000, 10_000, 100_000] as const;

const AG = 'ag-poll';
const MG = 'mg-poll';
const CHANNEL = 'bench';
const PLATFORM = 'C-poll';
const BIG_BYTES = 50 * 1024 * 1024;
/** SQLite builds the big content itself: `{"text":"` + 2 × BIG_BYTES/2 hex digits + `"}`. */
const BIG_CONTENT_SQL = `'{"text":"' || hex(zeroblob(${BIG_BYTES / 2})) || '"}'`;
const TS = '2026-01-01 00:00:00';
const CALL_TIMEOUT_MS = 60_000;

type Db = Database.Database;

interface DataSet {
  n: number;
  dataDir: string;
  sessionId: string;
  inbound: string;
  outbound: string;
  jobEnv: JobEnv;
  /** Highest seq in `messages_out`. */
  maxSeq: number;
}

function figureDefs(): FigureDef[] {
  const ratio = { on: 'ratio' as const, op: '<=' as const, threshold: POLL_TARGETS.maxRatio };
  const n = (size: number) => size.toLocaleString('en-US');
  return [
    ...POLL_SIZES.map((size): FigureDef => ({
      key: `poll.thread.n${size}`,
      label: `one poll on its commit thread, ${n(size)} settled rows (+1 new)`,
      unit: 'ms',
      better: 'lower',
      baseline: 'the same poll over 100 settled rows',
      ...(size === POLL_SIZES.at(-1) ? { target: ratio } : {}),
    })),
    ...POLL_SIZES.map((size): FigureDef => ({
      key: `poll.runtime.n${size}`,
      label: `writeOutboundDirect → delivered (one poll), ${n(size)} settled rows`,
      unit: 'ms',
      better: 'lower',
      baseline: 'the same over 100 settled rows',
      ...(size === POLL_SIZES.at(-1) ? { target: ratio } : {}),
    })),
    ...POLL_SIZES.map((size): FigureDef => ({
      key: `poll.loop.n${size}`,
      label: `event-loop delay max over those calls, ${n(size)} settled rows`,
      unit: 'ms',
      better: 'lower',
      baseline: 'the same over 100 settled rows',
    })),
    {
      key: 'poll.refuse.thread',
      label: `one poll refusing a fresh 50 MB row, ${n(POLL_SIZES.at(-1)!)} settled rows, on its thread`,
      unit: 'ms',
      better: 'lower',
      baseline: 'a poll with one ordinary new row, same data set',
    },
    {
      key: 'poll.refuse.reply',
      label: 'reply of that poll to the main thread',
      unit: 'B',
      better: 'lower',
      target: { on: 'value', op: '<=', threshold: POLL_TARGETS.maxRefusalReplyBytes },
    },
    {
      key: 'poll.refuse.runtime',
      label: 'writeOutboundDirect → delivered while the same poll refuses a 50 MB row',
      unit: 'ms',
      better: 'lower',
      baseline: 'the same call with nothing to refuse',
    },
    {
      key: 'poll.refuse.loop',
      label: 'event-loop delay max over that call',
      unit: 'ms',
      better: 'lower',
    },
  ];
}

function withDb<T>(path: string, fn: (db: Db) => T): T {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
    return fn(db);
  } finally {
    db.close();
  }
}

function rowContent(i: number): string {
  return JSON.stringify({ text: `settled reply number ${i} of this session, already delivered` });
}

async function createSession(dataDir: string): Promise<string> {
  const rt = await createRuntime({ dataDir, driver: 'none' });
  try {
    await rt.upsertAgentGroup({ id: AG, name: 'Poll bench' });
    await rt.upsertMessagingGroup({ id: MG, channelType: CHANNEL, platformId: PLATFORM });
    const { session } = await rt.resolveSession({
      agentGroupId: AG,
      messagingGroupId: MG,
      threadId: null,
      mode: 'shared',
    });
    return session.id;
  } finally {
    await rt.close();
  }
}

/** The data set of one N (see the module comment). */
async function buildDataSet(root: string, n: number): Promise<DataSet> {
  const dataDir = mkdtempSync(join(root, `poll-bench-${n}-`));
  const sessionId = await createSession(dataDir);
  const dir = join(dataDir, 'v2-sessions', AG, sessionId);
  const inbound = join(dir, 'inbound.db');
  const outbound = join(dir, 'outbound.db');
  const big = Math.floor(n / 2);
  const ids: string[] = [];
  const lastRowid = withDb(outbound, (db) => {
    const insert = (content: string | null) =>
      db.prepare(
        `INSERT INTO messages_out (id, seq, in_reply_to, timestamp, deliver_after, recurrence, kind, platform_id,
           channel_type, thread_id, content)
         VALUES (?, ?, NULL, '${TS}', NULL, NULL, 'chat', '${PLATFORM}', '${CHANNEL}', NULL, ${content ?? '?'})`,
      );
    const small = insert(null);
    const huge = insert(BIG_CONTENT_SQL);
    return db.transaction(() => {
      let rowid = 0;
      for (let i = 0; i < n; i++) {
        const id = i === big ? `settled-big` : `settled-${i}`;
        ids.push(id);
        rowid = Number((i === big ? huge.run(id, 2 * i + 1) : small.run(id, 2 * i + 1, rowContent(i))).lastInsertRowid);
      }
      return rowid;
    })();
  });
  withDb(inbound, (db) =>
    db.transaction(() => {
      for (const id of ids) {
        const refused = id === 'settled-big';
        recordDelivery(db, {
          messageOutId: id,
          platformMessageId: refused ? null : `p-${id}`,
          status: refused ? 'failed' : 'delivered',
          deliveredAt: TS,
          error: refused ? `${id}: content of ${BIG_BYTES + 12} bytes is over the limit` : null,
        });
      }
      writeOutboundProgress(db, lastRowid);
    })(),
  );
  const jobEnv: JobEnv = {
    sessionDir: dir,
    inboundDbPath: inbound,
    outboundDbPath: outbound,
    heartbeatPath: join(dir, '.heartbeat'),
    maxAttachmentBytes: 25 * 1024 * 1024,
    maxMessageBytes: 1024 * 1024,
    retry: { maxTries: 5, backoffMs: 5000 },
    poll: DEFAULT_POLL_LIMITS,
    migrate: false,
  };
  return { n, dataDir, sessionId, inbound, outbound, jobEnv, maxSeq: 2 * n - 1 };
}

/** Plays the container: one new reply with the next odd seq (or a 50 MB one). */
function containerReply(ds: DataSet, id: string, big = false): void {
  ds.maxSeq += 2;
  withDb(ds.outbound, (db) =>
    db
      .prepare(
        `INSERT INTO messages_out (id, seq, in_reply_to, timestamp, deliver_after, recurrence, kind, platform_id,
           channel_type, thread_id, content)
         VALUES (?, ?, NULL, '${TS}', NULL, NULL, 'chat', '${PLATFORM}', '${CHANNEL}', NULL, ${big ? BIG_CONTENT_SQL : '?'})`,
      )
      .run(...(big ? [id, ds.maxSeq] : [id, ds.maxSeq, rowContent(ds.maxSeq)])),
  );
}

/** The container drops the 50 MB rows an earlier run planted (the file stays the same size). */
function dropPlantedBigRows(ds: DataSet): void {
  withDb(ds.outbound, (db) => db.prepare("DELETE FROM messages_out WHERE id LIKE 'big-%'").run());
}

let jobIds = 0;

function job(ds: DataSet, op: Parameters<typeof encodeOps>[0][number]): CommitJob {
  return {
    id: ++jobIds,
    env: ds.jobEnv,
    sessionId: ds.sessionId,
    containerStatus: 'stopped',
    ops: encodeOps([op]),
    writesOutbound: [],
    at: Date.now(),
    direct: [],
  };
}

function pollValue(reply: ReturnType<typeof runJob>): PollResult {
  const [r] = reply.results;
  check(r !== undefined && r.ok, `poll failed: ${JSON.stringify(r)}`);
  return r.value as PollResult;
}

function record(ds: DataSet, id: string): void {
  const [r] = runJob(
    job(ds, {
      kind: 'recordDelivery',
      record: { messageOutId: id, platformMessageId: `p-${id}`, status: 'delivered', deliveredAt: TS },
    }),
  ).results;
  check(r !== undefined && r.ok && r.value === true, `recording ${id} failed`);
}

function refusalOf(ds: DataSet, id: string): { status: string; error: string | null } | undefined {
  return withDb(
    ds.inbound,
    (db) =>
      db
        .prepare(
          `SELECT d.status AS status, e.error AS error FROM delivered d
           LEFT JOIN host_delivery_errors e ON e.message_out_id = d.message_out_id WHERE d.message_out_id = ?`,
        )
        .get(id) as { status: string; error: string | null } | undefined,
  );
}

interface ThreadResult {
  pollMs: number[];
  refuseMs: number;
  refuseReplyBytes: number;
}

/** (a): polls through `runJob`, the commit thread's own function, on this thread. */
function threadPhase(ds: DataSet, run: number, polls: number): ThreadResult {
  dropPlantedBigRows(ds);
  const bigId = `big-thread-${run}`;
  containerReply(ds, bigId, true);
  collectGarbage();
  let t0 = performance.now();
  const refusing = runJob(job(ds, { kind: 'pollOutbound' }));
  const refuseMs = performance.now() - t0;
  const refuseReplyBytes = Buffer.byteLength(JSON.stringify({ ...refusing, results: encodeResults(refusing.results) }));
  const refused = pollValue(refusing);
  check(
    refused.undelivered.length === 0 &&
      refused.refused.length === 1 &&
      refused.refused[0]!.messageId === bigId &&
      refused.refused[0]!.violation.kind === 'oversized',
    `the 50 MB row was not refused as oversized: ${JSON.stringify(refused.refused)}`,
  );
  check(
    refusalOf(ds, bigId)?.status === 'failed' && /over the limit/.test(refusalOf(ds, bigId)?.error ?? ''),
    `${bigId} is not recorded failed with its reason`,
  );

  const pollMs: number[] = [];
  collectGarbage();
  for (let k = 0; k < polls; k++) {
    const id = `new-${run}-${k}`;
    containerReply(ds, id);
    t0 = performance.now();
    const reply = runJob(job(ds, { kind: 'pollOutbound' }));
    pollMs.push(performance.now() - t0);
    const poll = pollValue(reply);
    check(
      poll.undelivered.length === 1 && poll.undelivered[0]!.id === id && poll.refused.length === 0,
      `poll ${k} over ${ds.n} rows returned ${JSON.stringify(poll.undelivered.map((r) => r.id))}`,
    );
    record(ds, id);
  }
  return { pollMs, refuseMs, refuseReplyBytes };
}

interface RuntimeResult {
  callMs: number[];
  loopMaxMs: number;
  refuseMs: number;
  refuseLoopMaxMs: number;
}

interface Watched {
  delivered: Map<string, () => void>;
  violations: { kind: string; detail: string }[];
  failed: string[];
  errors: unknown[];
  contentBytes: number;
}

function deliverTo(w: Watched): ChannelAdapter {
  return {
    async deliver(msg) {
      w.contentBytes = Math.max(w.contentBytes, JSON.stringify(msg.content).length);
      return { platformMessageId: `p-${msg.messageId}` };
    },
  };
}

function deliveredOnce(w: Watched, id: string): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => w.delivered.set(id, resolve)),
    CALL_TIMEOUT_MS,
    `outbound.delivered of ${id}`,
  );
}

async function sendDirect(rt: Runtime, w: Watched, ds: DataSet, id: string): Promise<number> {
  const t0 = performance.now();
  await Promise.all([
    deliveredOnce(w, id),
    rt.writeOutboundDirect(ds.sessionId, {
      id,
      kind: 'chat',
      platformId: PLATFORM,
      channelType: CHANNEL,
      threadId: null,
      content: JSON.stringify({ text: `from the host, ${id}` }),
    }),
  ]);
  const ms = performance.now() - t0;
  ds.maxSeq += 2;
  return ms;
}

/** (b): `writeOutboundDirect` → `outbound.delivered` through a runtime over the data set. */
async function runtimePhase(ds: DataSet, run: number, calls: number): Promise<RuntimeResult> {
  dropPlantedBigRows(ds);
  const bigId = `big-runtime-${run}`;
  containerReply(ds, bigId, true);
  const w: Watched = { delivered: new Map(), violations: [], failed: [], errors: [], contentBytes: 0 };
  const rt = await createRuntime({ dataDir: ds.dataDir, driver: 'none', channels: { [CHANNEL]: deliverTo(w) } });
  rt.on('outbound.delivered', (e) => {
    const resolve = w.delivered.get(e.messageId);
    w.delivered.delete(e.messageId);
    resolve?.();
  });
  rt.on('container.violation', (e) => w.violations.push({ kind: e.kind, detail: e.detail }));
  rt.on('outbound.failed', (e) => w.failed.push(e.messageId));
  rt.on('error', (e) => w.errors.push(e.error));
  try {
    // The actor is activated and its inbound.db migrated by a read: no timed call pays for that.
    const counts = await rt.messageCounts(ds.sessionId);
    const rows = withDb(
      ds.outbound,
      (db) => (db.prepare('SELECT COUNT(*) AS n FROM messages_out').get() as { n: number }).n,
    );
    check(
      counts.messagesOut === rows && rows > ds.n,
      `messageCounts says ${counts.messagesOut} rows, the file holds ${rows}`,
    );

    collectGarbage();
    let watch = await watchLoopDelay();
    const refuseMs = await sendDirect(rt, w, ds, `direct-${run}-refusing`);
    const refuseLoopMaxMs = (await watch.stop()).maxMs;
    check(
      w.violations.length === 1 && w.violations[0]!.kind === 'oversized' && w.failed.join() === bigId,
      `the 50 MB row was not refused by the runtime's poll: ${JSON.stringify(w.violations)}, failed ${w.failed.join()}`,
    );

    const callMs: number[] = [];
    collectGarbage();
    watch = await watchLoopDelay();
    for (let k = 0; k < calls; k++) callMs.push(await sendDirect(rt, w, ds, `direct-${run}-${k}`));
    const loopMaxMs = (await watch.stop()).maxMs;
    check(w.errors.length === 0, `error events: ${w.errors.map(String).join('; ')}`);
    check(w.violations.length === 1 && w.failed.length === 1, 'a call was refused');
    check(w.contentBytes < 1024, `an adapter received ${w.contentBytes} bytes of content`);
    return { callMs, loopMaxMs, refuseMs, refuseLoopMaxMs };
  } finally {
    await rt.close();
  }
}

export async function runPollBench(opts: CommonBenchOptions = {}): Promise<BenchReport> {
  const quick = opts.quick === true;
  const runCount = opts.runs ?? DEFAULT_RUNS;
  const sizes = POLL_SIZES;
  const polls = quick ? 15 : 60;
  const root = opts.tmpRoot ?? tmpdir();
  const runs = new Runs();
  const details: Record<string, unknown>[] = [];
  const sets: DataSet[] = [];
  try {
    for (const n of sizes) {
      const t0 = performance.now();
      sets.push(await buildDataSet(root, n));
      log(opts.verbose, `poll: data set of ${n} settled rows built in ${Math.round(performance.now() - t0)} ms`);
    }
    const base = sets[0]!;
    for (let run = 1; run <= runCount; run++) {
      runs.next();
      const perSize = new Map<number, { thread: ThreadResult; runtime: RuntimeResult }>();
      for (const ds of sets) {
        log(opts.verbose, `poll: run ${run}/${runCount}, ${ds.n} settled rows …`);
        perSize.set(ds.n, {
          thread: threadPhase(ds, run, polls),
          runtime: await runtimePhase(ds, run, polls),
        });
      }
      const baseline = perSize.get(base.n)!;
      const baseThread = percentile(baseline.thread.pollMs, 50);
      const baseCall = percentile(baseline.runtime.callMs, 50);
      const detail: Record<string, unknown> = { run };
      for (const [n, r] of perSize) {
        const thread = percentile(r.thread.pollMs, 50);
        const call = percentile(r.runtime.callMs, 50);
        runs.add(`poll.thread.n${n}`, { value: thread, baseline: baseThread });
        runs.add(`poll.runtime.n${n}`, { value: call, baseline: baseCall });
        runs.add(`poll.loop.n${n}`, { value: r.runtime.loopMaxMs, baseline: baseline.runtime.loopMaxMs });
        detail[`n${n}`] = {
          threadPollP50Ms: round(thread, 3),
          threadPollP99Ms: round(percentile(r.thread.pollMs, 99), 3),
          runtimeCallP50Ms: round(call, 3),
          runtimeCallP99Ms: round(percentile(r.runtime.callMs, 99), 3),
          loopMaxMs: round(r.runtime.loopMaxMs, 2),
          refuseThreadMs: round(r.thread.refuseMs, 3),
          refuseReplyBytes: r.thread.refuseReplyBytes,
          refuseRuntimeMs: round(r.runtime.refuseMs, 3),
          refuseLoopMaxMs: round(r.runtime.refuseLoopMaxMs, 2),
        };
      }
      const largest = perSize.get(sets.at(-1)!.n)!;
      runs.add('poll.refuse.thread', {
        value: largest.thread.refuseMs,
        baseline: percentile(largest.thread.pollMs, 50),
      });
      runs.add('poll.refuse.reply', { value: largest.thread.refuseReplyBytes });
      runs.add('poll.refuse.runtime', {
        value: largest.runtime.refuseMs,
        baseline: percentile(largest.runtime.callMs, 50),
      });
      runs.add('poll.refuse.loop', { value: largest.runtime.refuseLoopMaxMs });
      details.push(detail);
      const ratio = percentile(largest.thread.pollMs, 50) / baseThread;
      log(
        opts.verbose,
        `poll: run ${run}: ${sets.at(-1)!.n} ÷ ${base.n} settled rows: thread ${ratio.toFixed(2)}×, runtime ${(percentile(largest.runtime.callMs, 50) / baseCall).toFixed(2)}×`,
      );
    }
    for (const ds of sets) {
      const watermark = withDb(ds.inbound, (db) => readOutboundProgress(db));
      check(watermark >= ds.n, `the watermark of the ${ds.n}-row data set fell to ${watermark}`);
    }
  } finally {
    if (opts.keepDirs !== true) for (const ds of sets) rmSync(ds.dataDir, { recursive: true, force: true });
    else for (const ds of sets) log(opts.verbose, `poll: kept ${ds.dataDir}`);
  }

  const figures = runs.figures(figureDefs());
  const largest = sizes.at(-1)!;
  const ratioOf = (key: string) => figures.find((f) => f.key === key)?.ratio?.median;
  const fmt = (r: number | undefined) => (r === undefined ? 'n/a' : `${r.toFixed(2)}×`);
  return finishReport(
    opts,
    {
      bench: 'poll',
      quick,
      runs: runCount,
      method: {
        dataSet: `per N in ${sizes.join(', ')}: session created by the runtime; N rows into outbound.db (one transaction, direct SQL, odd seqs, ~80 B JSON each, one 50 MB row in the middle) and their delivered records (the 50 MB one failed, with its reason) plus the watermark (last rowid) into inbound.db in one transaction through recordDelivery/writeOutboundProgress; built once per N, before the runs; no catch-up poll is measured`,
        thread: `per run and N: ${polls} polls, each after the container wrote one new row, by runJob (the commit thread's function) called on this thread with one pollOutbound; value = p50 of the poll times; the row is recorded delivered after each poll, untimed`,
        runtime: `per run and N: createRuntime({ driver: 'none', channels: { bench } }), actor warmed by messageCounts, then ${polls} writeOutboundDirect calls with the container stopped, one at a time, each timed from the call to its outbound.delivered; value = p50; event-loop delay max over the ${polls} calls (monitorEventLoopDelay, 1 ms resolution)`,
        refusal: `per run and N: the container first writes a fresh 50 MB row (and drops the one of the run before); the next thread poll must refuse it (time, and the JSON reply the thread would post), and so must the runtime's first poll (time of that writeOutboundDirect → delivered, loop delay max); figures for N = ${largest}, every N in details`,
        baseline: `thread, runtime and loop figures: the same figure over ${sizes[0]} settled rows in the same run; refusal figures: the ordinary poll of the same N in the same run`,
        checks:
          'every poll returns exactly its new row; every call is delivered once; the 50 MB rows are refused as oversized, recorded failed with the reason, never in a reply, an adapter call or an event; no error event; the watermark never falls',
      },
      figures,
      details,
    },
    [
      `Poll cost, ${largest.toLocaleString('en-US')} ÷ ${sizes[0]} settled rows (median of the runs' ratios; target ≤ ${POLL_TARGETS.maxRatio}×): on its thread ${fmt(ratioOf(`poll.thread.n${largest}`))}, through the runtime ${fmt(ratioOf(`poll.runtime.n${largest}`))}.`,
    ],
  );
}
