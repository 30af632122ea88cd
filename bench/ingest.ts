/**
 * Ingest benchmark (issue 12 items 2–4): `runtime.writeMessage` against hand-written writes of the
 * same messages to the same kind of files, measured side by side in every run.
 *
 * Paths, each on a fresh data dir built by bench/dataset.ts (per-thread sessions, real schemas):
 * (a) naive — per message: open `inbound.db`, `journal_mode=DELETE`, BEGIN IMMEDIATE, SELECT
 *     MAX(seq), INSERT, COMMIT, close; then `UPDATE sessions SET last_active` on a kept-open
 *     `v2.db` (WAL, synchronous=NORMAL, as the runtime's). At most `naiveCap` messages (the first
 *     ones in interleaved order: message 0 of every session, then message 1, …): its rate does
 *     not depend on the session count, and a million naive commits would take half an hour.
 * (c) per-session group commit by hand — for each session, sequentially on one thread: open
 *     `inbound.db` → BEGIN IMMEDIATE → SELECT MAX(seq) → insert all of its messages (same columns,
 *     even seqs, ON CONFLICT(id) DO NOTHING as the runtime's idempotent write) → COMMIT → close.
 * runtime — `createRuntime({ driver: 'none' })` over the data dir (no actor live yet), every call
 *     fired without waiting (bench/burst.ts: each session's calls in one synchronous run, one
 *     `setImmediate` between sessions), every acknowledgement awaited.
 *
 * Measured per run: msg/s of each path at 1/100/1,000 sessions × 1,000 messages; event-loop delay
 * p99 during each runtime burst (bench/loop-delay.ts); the synchronous cost of a 100,000-call loop
 * (i); the acknowledgement p99 of a quiet session written every ~5 ms while a 100 × 1,000 burst
 * drains, against the same writes with no burst (ii); 10,000 sessions × 1 message against the QD8
 * durable SQLite commit rate measured in the same run (iii). The raw insert ceiling (bench/disk.ts)
 * is measured in every run as the limit of the msg/s figures.
 *
 * Invariants:
 * 1. Every path's run is checked afterwards (bench/verify.ts): every row present exactly once, in
 *    call order, with even increasing seqs, and for the runtime the seq each call was acknowledged
 *    with; no call rejected, none acknowledged as a duplicate, no `error` event. A failed check
 *    throws: no number is reported for a broken run.
 * 2. Session creation, message building and verification are outside every timed part; a full
 *    garbage collection (node --expose-gc) precedes each timed part.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createPaths, createRuntime, type InboundMessage, type Runtime } from '../src/index.js';
import { Acks, fireBurst } from './burst.js';
import { buildDataset, threadIdFor, type Dataset } from './dataset.js';
import { measureInsertCeilingIn, measureSqliteQd8 } from './disk.js';
import { Runs, type FigureDef } from './figures.js';
import { watchLoopDelay, type LoopDelay } from './loop-delay.js';
import { benchMessage, buildMessages, type Address } from './messages.js';
import { INSERT_MESSAGE_IN, MAX_SEQ_IN, messageInParams, nextEven } from './rows.js';
import {
  check,
  collectGarbage,
  DEFAULT_RUNS,
  finishReport,
  log,
  percentile,
  sleep,
  type BenchReport,
  type CommonBenchOptions,
} from './util.js';
import { verifySessions, type ExpectedSession } from './verify.js';

export interface IngestBenchOptions extends CommonBenchOptions {
  /** Session counts of the burst cases. Default 1, 100, 1,000 (quick: 1, 10, 100). */
  sessionCounts?: number[];
  /** Messages per session in the burst cases. Default 1,000 (quick: 100). */
  messagesPerSession?: number;
}

interface Sizes {
  counts: number[];
  perSession: number;
  naiveCap: number;
  syncSessions: number;
  syncPerSession: number;
  fairSessions: number;
  fairPerSession: number;
  quietEveryMs: number;
  quietIdleWrites: number;
  many: number;
  ceilingRows: number;
  qd8Ms: number;
}

const FULL: Sizes = {
  counts: [1, 100, 1000],
  perSession: 1000,
  naiveCap: 1000,
  syncSessions: 100,
  syncPerSession: 1000,
  fairSessions: 100,
  fairPerSession: 1000,
  quietEveryMs: 5,
  quietIdleWrites: 100,
  many: 10_000,
  ceilingRows: 100_000,
  qd8Ms: 1000,
};

const QUICK: Sizes = {
  counts: [1, 10, 100],
  perSession: 50,
  naiveCap: 100,
  syncSessions: 100,
  syncPerSession: 50,
  fairSessions: 20,
  fairPerSession: 1000,
  quietEveryMs: 5,
  quietIdleWrites: 20,
  many: 300,
  ceilingRows: 20_000,
  qd8Ms: 300,
};

/** Targets from issue 12. */
export const INGEST_TARGETS = {
  /** runtime ÷ (c) msg/s, every session count. */
  minVsGroupCommit: 1.0,
  /** Event-loop delay p99 during every burst, ms. */
  maxLoopP99Ms: 10,
  /** Synchronous cost of one writeMessage call, µs. */
  maxSyncUs: 5,
  /** The whole 100,000-call loop, ms (scaled by calls ÷ 100,000 for another loop size). */
  maxSyncLoopMs: 500,
  /** Quiet-session acknowledgement p99 during a burst, ms. */
  maxQuietP99Ms: 50,
  /** 10,000 × 1 msg/s as a fraction of the QD8 durable SQLite commit rate. */
  minManyOfQd8: 0.7,
} as const;

const n = (v: number) => v.toLocaleString('en-US');

function figureDefs(z: Sizes): FigureDef[] {
  const t = INGEST_TARGETS;
  const defs: FigureDef[] = [];
  for (const c of z.counts) {
    defs.push({
      key: `ingest.msgps.s${c}`,
      label: `writeMessage ingest, ${n(c)} session(s) × ${n(z.perSession)}`,
      unit: 'msg/s',
      better: 'higher',
      baseline: '(c) group commit by hand',
      limit: 'raw insert ceiling',
      limitUnit: 'rows/s',
      target: { on: 'ratio', op: '>=', threshold: t.minVsGroupCommit },
    });
  }
  for (const c of z.counts) {
    defs.push({
      key: `ingest.naive.s${c}`,
      label: `writeMessage ingest vs naive per-message, ${n(c)} session(s)`,
      unit: 'msg/s',
      better: 'higher',
      baseline: `(a) naive (≤ ${n(z.naiveCap)} msgs)`,
    });
  }
  for (const c of z.counts) {
    defs.push({
      key: `ingest.loop.s${c}`,
      label: `event-loop delay p99 during the ${n(c)}-session burst`,
      unit: 'ms',
      better: 'lower',
      target: { on: 'value', op: '<=', threshold: t.maxLoopP99Ms },
    });
  }
  const syncCalls = z.syncSessions * z.syncPerSession;
  const syncTotal = n(syncCalls);
  defs.push(
    {
      key: 'ingest.sync.us',
      label: `writeMessage synchronous cost per call (${syncTotal}-call loop over ${n(z.syncSessions)} sessions)`,
      unit: 'µs',
      better: 'lower',
      baseline: 'floor: Map.get + push + new Promise',
      target: { on: 'value', op: '<=', threshold: t.maxSyncUs },
    },
    {
      key: 'ingest.sync.loop',
      label: `the whole ${syncTotal}-call loop`,
      unit: 'ms',
      better: 'lower',
      baseline: 'floor loop',
      target: { on: 'value', op: '<=', threshold: (t.maxSyncLoopMs * syncCalls) / 100_000 },
    },
    {
      key: 'ingest.fair.p99',
      label: `quiet-session ack p99, one write every ~${z.quietEveryMs} ms while ${n(z.fairSessions)} × ${n(z.fairPerSession)} drain`,
      unit: 'ms',
      better: 'lower',
      baseline: 'same writes, no burst',
      target: { on: 'value', op: '<=', threshold: t.maxQuietP99Ms },
    },
    {
      key: 'ingest.loop.fair',
      label: `event-loop delay p99 during the ${n(z.fairSessions)} × ${n(z.fairPerSession)} burst (fairness)`,
      unit: 'ms',
      better: 'lower',
      target: { on: 'value', op: '<=', threshold: t.maxLoopP99Ms },
    },
    {
      key: 'ingest.many.msgps',
      label: `${n(z.many)} sessions × 1 message`,
      unit: 'msg/s',
      better: 'higher',
      limit: 'QD8 durable SQLite commits',
      limitUnit: 'commits/s',
      target: { on: 'limit', op: '>=', threshold: t.minManyOfQd8 },
    },
    {
      key: 'ingest.loop.many',
      label: `event-loop delay p99 during the ${n(z.many)} × 1 burst`,
      unit: 'ms',
      better: 'lower',
      target: { on: 'value', op: '<=', threshold: t.maxLoopP99Ms },
    },
  );
  return defs;
}

// ------------------------------------------------------------------------------- data dirs

interface Dir {
  ds: Dataset;
  inbound: string[];
  address(s: number): Address;
  remove(): void;
}

function newDir(root: string, label: string, sessions: number, keep: boolean | undefined, verbose?: boolean): Dir {
  const dataDir = mkdtempSync(join(root, `sa-bench-ingest-${label}-`));
  const ds = buildDataset({ dataDir, sessions });
  const paths = createPaths(dataDir);
  let removed = false;
  return {
    ds,
    inbound: ds.sessionIds.map((id) => paths.inboundDbPath(ds.agentGroupId, id)),
    address: (s) => ({ channelType: ds.channelType, platformId: ds.platformId, threadId: threadIdFor(s) }),
    remove() {
      if (removed) return;
      removed = true;
      if (keep) log(verbose, `kept ${dataDir}`);
      else rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const idsOf = (list: readonly InboundMessage[]) => list.map((m) => m.id);

// ------------------------------------------------------------------------------- (a) naive

function naiveWrite(central: Database.Statement, inboundPath: string, sessionId: string, m: InboundMessage): void {
  const db = new Database(inboundPath, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
    db.exec('BEGIN IMMEDIATE');
    const { m: max } = db.prepare(MAX_SEQ_IN).get() as { m: number };
    db.prepare(INSERT_MESSAGE_IN).run(...messageInParams(m, nextEven(max)));
    db.exec('COMMIT');
  } finally {
    db.close();
  }
  central.run(new Date().toISOString(), sessionId);
}

/** (a) on the first `cap` messages in interleaved order; returns msg/s. */
function runNaive(dir: Dir, messages: InboundMessage[][], cap: number): number {
  const count = messages.length;
  const perSession = messages[0]!.length;
  const total = Math.min(cap, count * perSession);
  const central = new Database(join(dir.ds.dataDir, 'v2.db'), { fileMustExist: true });
  try {
    central.pragma('journal_mode = WAL');
    central.pragma('synchronous = NORMAL');
    const touch = central.prepare('UPDATE sessions SET last_active = ? WHERE id = ?');
    collectGarbage();
    const t0 = performance.now();
    for (let k = 0; k < total; k++) {
      const s = k % count;
      naiveWrite(touch, dir.inbound[s]!, dir.ds.sessionIds[s]!, messages[s]![Math.floor(k / count)]!);
    }
    const ms = performance.now() - t0;
    const expected: ExpectedSession[] = messages.map((list, s) => ({
      inboundPath: dir.inbound[s]!,
      ids: idsOf(list).slice(0, Math.floor(total / count) + (s < total % count ? 1 : 0)),
    }));
    verifySessions('(a) naive', expected);
    return total / (ms / 1000);
  } finally {
    central.close();
  }
}

// ------------------------------------------------------------------------------- (c) group commit

/** (c): one open → BEGIN IMMEDIATE → all of a session's messages → COMMIT → close per session. */
function groupCommitByHand(inbound: readonly string[], messages: readonly (readonly InboundMessage[])[]): void {
  for (let s = 0; s < inbound.length; s++) {
    const db = new Database(inbound[s]!, { fileMustExist: true });
    try {
      db.exec('BEGIN IMMEDIATE');
      let seq = (db.prepare(MAX_SEQ_IN).get() as { m: number }).m;
      const insert = db.prepare(INSERT_MESSAGE_IN);
      for (const m of messages[s]!) {
        const next = nextEven(seq);
        if (insert.run(...messageInParams(m, next)).changes === 1) seq = next;
      }
      db.exec('COMMIT');
    } finally {
      db.close();
    }
  }
}

function runGroupCommit(dir: Dir, messages: InboundMessage[][]): number {
  const total = messages.length * messages[0]!.length;
  collectGarbage();
  const t0 = performance.now();
  groupCommitByHand(dir.inbound, messages);
  const ms = performance.now() - t0;
  verifySessions(
    '(c) group commit',
    messages.map((list, s) => ({ inboundPath: dir.inbound[s]!, ids: idsOf(list) })),
  );
  return total / (ms / 1000);
}

// ------------------------------------------------------------------------------- runtime

async function openRuntime(dir: Dir): Promise<{ rt: Runtime; errors: unknown[] }> {
  const rt = await createRuntime({ dataDir: dir.ds.dataDir, driver: 'none' });
  const errors: unknown[] = [];
  rt.on('error', (e) => errors.push(e.error));
  return { rt, errors };
}

function checkAcks(label: string, acks: Acks, errors: unknown[]): void {
  check(acks.errors.length === 0, `${label}: ${acks.errors.length} call(s) rejected, first: ${String(acks.errors[0])}`);
  check(acks.duplicates === 0, `${label}: ${acks.duplicates} call(s) acknowledged as duplicates`);
  check(errors.length === 0, `${label}: ${errors.length} error event(s), first: ${String(errors[0])}`);
}

function expectedWithAcks(dir: Dir, messages: InboundMessage[][], acks: Acks, first = 0): ExpectedSession[] {
  let k = 0;
  return messages.map((list, s) => {
    const acked = acks.seqs.subarray(k, k + list.length);
    k += list.length;
    return { inboundPath: dir.inbound[first + s]!, ids: idsOf(list), acked };
  });
}

/** Fires every message (bench/burst.ts) and awaits every acknowledgement; msg/s and loop delay. */
async function runtimeBurst(
  dir: Dir,
  messages: InboundMessage[][],
  label: string,
): Promise<{ msgps: number; loop: LoopDelay }> {
  const total = messages.reduce((sum, l) => sum + l.length, 0);
  const { rt, errors } = await openRuntime(dir);
  const acks = new Acks(total);
  let ms: number;
  let loop: LoopDelay;
  try {
    collectGarbage();
    const watch = await watchLoopDelay();
    const t0 = performance.now();
    await fireBurst(rt, dir.ds.sessionIds, messages, acks, true);
    await acks.done;
    ms = performance.now() - t0;
    loop = await watch.stop();
  } finally {
    await rt.close();
  }
  checkAcks(label, acks, errors);
  verifySessions(label, expectedWithAcks(dir, messages, acks));
  return { msgps: total / (ms / 1000), loop };
}

// ------------------------------------------------------------------------------- cases

interface RunContext {
  root: string;
  z: Sizes;
  opts: IngestBenchOptions;
  runs: Runs;
  ceiling: number;
  details: Record<string, unknown>;
}

async function burstCase(ctx: RunContext, count: number): Promise<void> {
  const { root, z, opts } = ctx;
  const v = opts.verbose;
  const a = newDir(root, `naive-${count}`, count, opts.keepDirs, v);
  const c = newDir(root, `group-${count}`, count, opts.keepDirs, v);
  const r = newDir(root, `runtime-${count}`, count, opts.keepDirs, v);
  try {
    const messages = buildMessages(count, z.perSession, a.address);
    log(v, `ingest: ${count} × ${z.perSession}: (a) naive …`);
    const naive = runNaive(a, messages, z.naiveCap);
    a.remove();
    log(v, `ingest: ${count} × ${z.perSession}: (c) group commit by hand …`);
    const group = runGroupCommit(c, messages);
    c.remove();
    log(v, `ingest: ${count} × ${z.perSession}: runtime …`);
    const rt = await runtimeBurst(r, messages, `runtime ${count}×${z.perSession}`);
    ctx.runs.add(`ingest.msgps.s${count}`, { value: rt.msgps, baseline: group, limit: ctx.ceiling });
    ctx.runs.add(`ingest.naive.s${count}`, { value: rt.msgps, baseline: naive });
    ctx.runs.add(`ingest.loop.s${count}`, { value: rt.loop.p99Ms });
    ctx.details[`s${count}`] = { naiveMsgps: naive, groupMsgps: group, runtimeMsgps: rt.msgps, loop: rt.loop };
    log(
      v,
      `ingest: ${count} sessions: naive ${Math.round(naive)}, (c) ${Math.round(group)}, runtime ${Math.round(rt.msgps)} msg/s, loop p99 ${rt.loop.p99Ms.toFixed(1)} ms`,
    );
  } finally {
    a.remove();
    c.remove();
    r.remove();
  }
}

/** The floor of any asynchronous enqueue: find the session's queue, push, make one promise. */
function floorLoop(ids: readonly string[], messages: InboundMessage[][]): number {
  const queues = new Map<string, { items: InboundMessage[]; waiters: ((v: number) => void)[] }>();
  for (const id of ids) queues.set(id, { items: [], waiters: [] });
  const promises: Promise<number>[] = [];
  collectGarbage();
  const t0 = performance.now();
  for (let s = 0; s < ids.length; s++) {
    const id = ids[s]!;
    const list = messages[s]!;
    for (let i = 0; i < list.length; i++) {
      const q = queues.get(id)!;
      q.items.push(list[i]!);
      promises.push(new Promise<number>((resolve) => q.waiters.push(resolve)));
    }
  }
  const ms = performance.now() - t0;
  for (const q of queues.values()) for (const w of q.waiters) w(0);
  return ms;
}

/** (i): the synchronous cost of one loop of every call (no yield), acknowledgements untimed. */
async function syncCost(ctx: RunContext): Promise<void> {
  const { root, z, opts } = ctx;
  const dir = newDir(root, 'sync', z.syncSessions, opts.keepDirs, opts.verbose);
  try {
    const messages = buildMessages(z.syncSessions, z.syncPerSession, dir.address, 's');
    const total = z.syncSessions * z.syncPerSession;
    const floorMs = floorLoop(dir.ds.sessionIds, messages);
    log(opts.verbose, `ingest: (i) ${total}-call loop …`);
    const { rt, errors } = await openRuntime(dir);
    const acks = new Acks(total);
    let loopMs: number;
    try {
      const ids = dir.ds.sessionIds;
      const promises: Promise<{ seq: number; duplicate: boolean }>[] = new Array(total);
      collectGarbage();
      const t0 = performance.now();
      let k = 0;
      for (let s = 0; s < ids.length; s++) {
        const id = ids[s]!;
        const list = messages[s]!;
        for (let i = 0; i < list.length; i++) promises[k++] = rt.writeMessage(id, list[i]!);
      }
      loopMs = performance.now() - t0;
      // Synchronously after the loop, before any rejection can be reported unhandled.
      for (let j = 0; j < total; j++) acks.track(j, promises[j]!);
      await acks.done;
    } finally {
      await rt.close();
    }
    checkAcks('(i) sync cost', acks, errors);
    verifySessions('(i) sync cost', expectedWithAcks(dir, messages, acks));
    ctx.runs.add('ingest.sync.us', { value: (loopMs * 1000) / total, baseline: (floorMs * 1000) / total });
    ctx.runs.add('ingest.sync.loop', { value: loopMs, baseline: floorMs });
    ctx.details.sync = { calls: total, loopMs, floorMs };
  } finally {
    dir.remove();
  }
}

/**
 * Writes one message to `sessionId` every `everyMs` (not waiting for acknowledgements) until
 * stopped or `limit` writes were made; latency = acknowledgement time − call time.
 */
function quietWriter(
  rt: Runtime,
  sessionId: string,
  make: (i: number) => InboundMessage,
  everyMs: number,
  limit = Infinity,
) {
  const latencies: number[] = [];
  const errors: unknown[] = [];
  const ids: string[] = [];
  const pending: Promise<void>[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped && ids.length < limit) {
      const m = make(ids.length);
      ids.push(m.id);
      const t0 = performance.now();
      pending.push(
        rt.writeMessage(sessionId, m).then(
          (r) => {
            if (r.duplicate) errors.push(new Error(`${m.id} acknowledged as a duplicate`));
            latencies.push(performance.now() - t0);
          },
          (error: unknown) => {
            errors.push(error);
          },
        ),
      );
      await sleep(everyMs);
    }
  })();
  return {
    ids,
    async stop(): Promise<{ latencies: number[]; errors: unknown[] }> {
      stopped = true;
      await loop;
      await Promise.all(pending);
      return { latencies, errors };
    },
    finished: loop,
  };
}

/** (ii): quiet-session acknowledgement latency while a burst drains elsewhere, and without one. */
async function fairness(ctx: RunContext): Promise<void> {
  const { root, z, opts } = ctx;
  const dir = newDir(root, 'fair', z.fairSessions + 1, opts.keepDirs, opts.verbose);
  try {
    const q = z.fairSessions;
    const messages = buildMessages(z.fairSessions, z.fairPerSession, dir.address, 'f');
    const total = z.fairSessions * z.fairPerSession;
    const quietId = dir.ds.sessionIds[q]!;
    const quietAddress = dir.address(q);
    const { rt, errors } = await openRuntime(dir);
    const acks = new Acks(total);
    let idle: { latencies: number[]; errors: unknown[] };
    let busy: { latencies: number[]; errors: unknown[] };
    let loop: LoopDelay;
    let idleIds: string[];
    let busyIds: string[];
    try {
      log(opts.verbose, `ingest: (ii) quiet writes with no burst …`);
      const before = quietWriter(
        rt,
        quietId,
        (i) => benchMessage(q, i, quietAddress, 'qi'),
        z.quietEveryMs,
        z.quietIdleWrites,
      );
      await before.finished;
      idle = await before.stop();
      idleIds = before.ids;
      log(opts.verbose, `ingest: (ii) quiet writes during a ${total}-message burst …`);
      const burstIds = dir.ds.sessionIds.slice(0, q);
      collectGarbage();
      const watch = await watchLoopDelay();
      const during = quietWriter(rt, quietId, (i) => benchMessage(q, i, quietAddress, 'qb'), z.quietEveryMs);
      await fireBurst(rt, burstIds, messages, acks, true);
      await acks.done;
      busy = await during.stop();
      busyIds = during.ids;
      loop = await watch.stop();
    } finally {
      await rt.close();
    }
    checkAcks('(ii) fairness burst', acks, errors);
    check(
      idle.errors.length === 0 && busy.errors.length === 0,
      `(ii) quiet writes failed: ${String([...idle.errors, ...busy.errors][0])}`,
    );
    check(busy.latencies.length > 0, '(ii) no quiet write was made during the burst');
    verifySessions('(ii) fairness', [
      ...expectedWithAcks(dir, messages, acks),
      { inboundPath: dir.inbound[q]!, ids: [...idleIds, ...busyIds] },
    ]);
    const p99Busy = percentile(busy.latencies, 99);
    const p99Idle = percentile(idle.latencies, 99);
    ctx.runs.add('ingest.fair.p99', { value: p99Busy, baseline: p99Idle });
    ctx.runs.add('ingest.loop.fair', { value: loop.p99Ms });
    ctx.details.fairness = {
      quietDuringBurst: {
        writes: busy.latencies.length,
        p50Ms: percentile(busy.latencies, 50),
        p99Ms: p99Busy,
        maxMs: Math.max(...busy.latencies),
      },
      quietIdle: { writes: idle.latencies.length, p50Ms: percentile(idle.latencies, 50), p99Ms: p99Idle },
      loop,
    };
  } finally {
    dir.remove();
  }
}

/** (iii): many sessions × 1 message against the QD8 durable SQLite commit rate. */
async function manySessions(ctx: RunContext): Promise<void> {
  const { root, z, opts } = ctx;
  const dir = newDir(root, 'many', z.many, opts.keepDirs, opts.verbose);
  try {
    const messages = buildMessages(z.many, 1, dir.address, 'o');
    log(opts.verbose, `ingest: (iii) QD8 durable SQLite commit rate …`);
    const qd8 = await measureSqliteQd8(root, z.qd8Ms);
    log(opts.verbose, `ingest: (iii) ${z.many} sessions × 1 …`);
    const rt = await runtimeBurst(dir, messages, `(iii) ${z.many}×1`);
    ctx.runs.add('ingest.many.msgps', { value: rt.msgps, limit: qd8.perSec });
    ctx.runs.add('ingest.loop.many', { value: rt.loop.p99Ms });
    ctx.details.many = { msgps: rt.msgps, qd8CommitsPerSec: qd8.perSec, loop: rt.loop };
  } finally {
    dir.remove();
  }
}

// ------------------------------------------------------------------------------- entry point

export async function runIngestBench(opts: IngestBenchOptions = {}): Promise<BenchReport> {
  const quick = opts.quick === true;
  const base = quick ? QUICK : FULL;
  const z: Sizes = {
    ...base,
    counts: opts.sessionCounts ?? base.counts,
    perSession: opts.messagesPerSession ?? base.perSession,
  };
  for (const c of z.counts) check(Number.isInteger(c) && c > 0, `bad session count ${c}`);
  check(Number.isInteger(z.perSession) && z.perSession > 0, `bad messages per session ${z.perSession}`);
  const runCount = opts.runs ?? DEFAULT_RUNS;
  const root = opts.tmpRoot ?? tmpdir();
  const gc = collectGarbage();
  const runs = new Runs();
  const details: Record<string, unknown>[] = [];

  // Warm-up (not reported): every path once, small, so no run is measured on cold JIT.
  log(opts.verbose, 'ingest: warm-up …');
  await burstCase(
    {
      root,
      z: { ...z, perSession: 50, naiveCap: 20 },
      opts: { ...opts, keepDirs: false, verbose: false },
      runs: new Runs(),
      ceiling: 0,
      details: {},
    },
    4,
  );

  for (let run = 1; run <= runCount; run++) {
    log(opts.verbose, `ingest: run ${run}/${runCount}: raw insert ceiling …`);
    const ceiling = measureInsertCeilingIn(root, z.ceilingRows).perSec;
    const ctx: RunContext = { root, z, opts, runs, ceiling, details: { insertCeilingRowsPerSec: ceiling } };
    for (const count of z.counts) await burstCase(ctx, count);
    await syncCost(ctx);
    await fairness(ctx);
    await manySessions(ctx);
    details.push(ctx.details);
  }

  const figures = runs.figures(figureDefs(z));
  return finishReport(
    opts,
    {
      bench: 'ingest',
      quick,
      runs: runCount,
      method: {
        datasets:
          'every path on its own fresh data dir built by bench/dataset.ts (per-thread sessions, real schemas, session DBs journal_mode=DELETE, synchronous=FULL); session creation is not timed',
        naive: `(a) per message: open inbound.db, journal_mode=DELETE, BEGIN IMMEDIATE, SELECT MAX(seq), INSERT, COMMIT, close, then UPDATE sessions.last_active on a kept-open v2.db (WAL, synchronous=NORMAL); the first ≤ ${z.naiveCap} messages in interleaved order`,
        groupCommit:
          '(c) per session, sequentially on one thread: open inbound.db → BEGIN IMMEDIATE → SELECT MAX(seq) → one prepared INSERT … ON CONFLICT(id) DO NOTHING per message (same columns, even seqs) → COMMIT → close',
        runtime:
          "createRuntime({ dataDir, driver: 'none' }) with no actor live; writeMessage fired without waiting: each session's calls in one synchronous run, one setImmediate between sessions; every acknowledgement awaited; msg/s = messages ÷ (first call → last acknowledgement)",
        loopDelay:
          'perf_hooks.monitorEventLoopDelay({ resolution: 1 }) over the runtime burst (first call to last acknowledgement), enabled ~2 ms before and read ~1 ms after',
        syncCost: `(i) one loop of ${z.syncSessions * z.syncPerSession} writeMessage calls (${z.syncSessions} sessions × ${z.syncPerSession}, session after session, no yield), the loop alone timed; floor = the same loop doing Map.get + array push + new Promise per call`,
        fairness: `(ii) ${z.fairSessions} × ${z.fairPerSession} fired as above while a separate quiet session gets one writeMessage every ~${z.quietEveryMs} ms (a sleep loop; not awaited); latency = acknowledgement − call; baseline: ${z.quietIdleWrites} such writes with no burst, same runtime, just before`,
        many: `(iii) ${z.many} sessions × 1 message fired as above; limit: the QD8 durable SQLite commit rate (bench/disk.ts, ${z.qd8Ms} ms) measured in the same run`,
        limit: `raw insert ceiling (bench/disk.ts, ${z.ceilingRows} rows) measured at the start of every run`,
        checks:
          'after every path: each session holds exactly its ids once, in call order, even increasing seqs, and (runtime) the acknowledged seqs; no rejection, no duplicate, no error event',
        gc: gc
          ? 'a full GC (node --expose-gc) before each timed part'
          : 'no --expose-gc: a timed part may pay for earlier garbage',
      },
      figures,
      details,
    },
    [
      `Sessions are fired one after another, each session's ${n(z.perSession)} calls in one synchronous run, with one setImmediate between two sessions; (i) is one loop with no yield. Event-loop delay: monitorEventLoopDelay with a 1 ms resolution.`,
    ],
  );
}
