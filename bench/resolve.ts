/**
 * Resolution benchmark (issue 12 item 5): `resolveSession` of existing keys (warm) and of new keys
 * (cold), each against a hand-written equivalent measured in the same run.
 *
 * - Warm: a data dir of W per-thread sessions (bench/dataset.ts). Baseline, on its own connection
 *   to `v2.db` before the runtime opens it: a plain lookup — the resolution key, one prepared
 *   SELECT joining `session_keys` and `sessions`, and `existsSync` of the session folder. Then
 *   `createRuntime` and `resolveSession` of the same keys. Each path first visits every key once
 *   untimed (warm-up; fills whatever cache either keeps), then resolves N keys in a fixed shuffled
 *   order, one call at a time (each awaited before the next), timing each call.
 * - Cold: creations of N new per-thread keys, one at a time, on a fresh data dir each: the runtime
 *   (`resolveSession`), and a naive create by hand — central rows in one BEGIN IMMEDIATE
 *   transaction (WAL, synchronous=NORMAL, as the runtime's), then mkdir of the folder with inbox/
 *   and outbox/, then both DBs created with their schemas (journal_mode=DELETE, one transaction
 *   each), sequentially.
 *
 * Invariants:
 * 1. Every warm call of both paths returns the session the data dir maps the key to (the runtime
 *    with `created: false`); every cold runtime call returns `created: true` with a session whose
 *    folder holds both DBs, inbox/ and outbox/. A failed check throws: no number is reported.
 * 2. Rates are calls ÷ the sum of the timed calls; p99 is over those same per-call times.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createPaths, createRuntime, type SessionPaths } from '../src/index.js';
import { resolutionKey } from '../src/store/central.js';
import { buildDataset, createSessionDbFiles, sessionIdFor, threadIdFor, type Dataset } from './dataset.js';
import { Runs, type FigureDef } from './figures.js';
import {
  check,
  collectGarbage,
  DEFAULT_RUNS,
  finishReport,
  log,
  percentile,
  type BenchReport,
  type CommonBenchOptions,
} from './util.js';

export const RESOLVE_TARGETS = {
  /** Warm resolutions of existing keys per second. */
  minWarmPerSec: 100_000,
  /** Cold creations, runtime ÷ naive. */
  minColdVsNaive: 1.0,
} as const;

const FIGURES: readonly FigureDef[] = [
  {
    key: 'resolve.warm.rate',
    label: 'warm resolveSession of existing keys (one at a time)',
    unit: 'resolutions/s',
    better: 'higher',
    baseline: 'plain lookup (SELECT + existsSync)',
    target: { on: 'value', op: '>=', threshold: RESOLVE_TARGETS.minWarmPerSec },
  },
  {
    key: 'resolve.warm.p99',
    label: 'warm resolveSession p99',
    unit: 'µs',
    better: 'lower',
    baseline: 'plain lookup p99',
  },
  {
    key: 'resolve.cold.rate',
    label: 'cold resolveSession: creations (one at a time)',
    unit: 'creations/s',
    better: 'higher',
    baseline: 'naive create by hand',
    target: { on: 'ratio', op: '>=', threshold: RESOLVE_TARGETS.minColdVsNaive },
  },
  {
    key: 'resolve.cold.p99',
    label: 'cold resolveSession p99',
    unit: 'ms',
    better: 'lower',
    baseline: 'naive create p99',
  },
];

interface Timed {
  perSec: number;
  p99Us: number;
  p50Us: number;
}

function summarize(times: number[]): Timed {
  const totalMs = times.reduce((a, b) => a + b, 0);
  return {
    perSec: times.length / (totalMs / 1000),
    p99Us: percentile(times, 99) * 1000,
    p50Us: percentile(times, 50) * 1000,
  };
}

/** A fixed permutation-based order of `count` visits over `keys` keys (same every run). */
function visitOrder(keys: number, count: number): Uint32Array {
  const perm = Uint32Array.from({ length: keys }, (_, i) => i);
  let x = 0x2545f491;
  for (let i = keys - 1; i > 0; i--) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const j = x % (i + 1);
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  return Uint32Array.from({ length: count }, (_, i) => perm[i % keys]!);
}

// ------------------------------------------------------------------------------- warm

function plainLookups(ds: Dataset, order: Uint32Array): number[] {
  const db = new Database(join(ds.dataDir, 'v2.db'), { fileMustExist: true });
  const paths = createPaths(ds.dataDir);
  try {
    const select = db.prepare(
      `SELECT s.id AS id, s.agent_group_id AS ag, s.status AS status FROM session_keys k
       JOIN sessions s ON s.id = k.session_id WHERE k.key = ?`,
    );
    const lookup = (i: number) => {
      const key = resolutionKey('per-thread', ds.agentGroupId, ds.messagingGroupId, threadIdFor(i));
      const row = select.get(key) as { id: string; ag: string; status: string } | undefined;
      if (row === undefined || row.status !== 'active' || !existsSync(paths.sessionDir(row.ag, row.id)))
        return undefined;
      return row.id;
    };
    for (let i = 0; i < ds.sessionIds.length; i++)
      check(lookup(i) === ds.sessionIds[i], `plain lookup of t-${i} failed`);
    collectGarbage();
    const times: number[] = new Array(order.length);
    for (let c = 0; c < order.length; c++) {
      const i = order[c]!;
      const t0 = performance.now();
      const id = lookup(i);
      times[c] = performance.now() - t0;
      check(id === ds.sessionIds[i], `plain lookup of t-${i} returned ${String(id)}`);
    }
    return times;
  } finally {
    db.close();
  }
}

async function runtimeLookups(ds: Dataset, order: Uint32Array): Promise<number[]> {
  const rt = await createRuntime({ dataDir: ds.dataDir, driver: 'none' });
  try {
    const args = (i: number) => ({
      agentGroupId: ds.agentGroupId,
      messagingGroupId: ds.messagingGroupId,
      threadId: threadIdFor(i),
      mode: 'per-thread' as const,
    });
    for (let i = 0; i < ds.sessionIds.length; i++) {
      const r = await rt.resolveSession(args(i));
      check(
        !r.created && r.session.id === ds.sessionIds[i],
        `resolveSession of t-${i} returned ${r.session.id} (created ${r.created})`,
      );
    }
    collectGarbage();
    const times: number[] = new Array(order.length);
    for (let c = 0; c < order.length; c++) {
      const i = order[c]!;
      const a = args(i);
      const t0 = performance.now();
      const r = await rt.resolveSession(a);
      times[c] = performance.now() - t0;
      check(
        !r.created && r.session.id === ds.sessionIds[i],
        `resolveSession of t-${i} returned ${r.session.id} (created ${r.created})`,
      );
    }
    return times;
  } finally {
    await rt.close();
  }
}

// ------------------------------------------------------------------------------- cold

function checkFolder(paths: SessionPaths, ag: string, id: string): void {
  for (const p of [
    paths.inboundDbPath(ag, id),
    paths.outboundDbPath(ag, id),
    paths.inboxDir(ag, id),
    paths.outboxDir(ag, id),
  ])
    check(existsSync(p), `created session ${id} lacks ${p}`);
}

function naiveCreates(ds: Dataset, count: number): number[] {
  const db = new Database(join(ds.dataDir, 'v2.db'), { fileMustExist: true });
  const paths = createPaths(ds.dataDir);
  const ag = ds.agentGroupId;
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const findKey = db.prepare('SELECT session_id FROM session_keys WHERE key = ?');
    const insertSession = db.prepare(
      `INSERT INTO sessions (id, agent_group_id, messaging_group_id, thread_id, agent_provider, status,
         container_status, last_active, created_at) VALUES (?, ?, ?, ?, NULL, 'active', 'stopped', NULL, ?)`,
    );
    const insertKey = db.prepare(
      'INSERT INTO session_keys (key, mode, agent_group_id, session_id) VALUES (?, ?, ?, ?)',
    );
    const create = (i: number) => {
      const thread = `c-${i}`;
      const key = resolutionKey('per-thread', ag, ds.messagingGroupId, thread);
      const id = sessionIdFor(i);
      db.exec('BEGIN IMMEDIATE');
      try {
        check(findKey.get(key) === undefined, `naive create: key ${key} exists`);
        insertSession.run(id, ag, ds.messagingGroupId, thread, new Date().toISOString());
        insertKey.run(key, 'per-thread', ag, id);
        db.exec('COMMIT');
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      }
      mkdirSync(paths.inboxDir(ag, id), { recursive: true });
      mkdirSync(paths.outboxDir(ag, id), { recursive: true });
      createSessionDbFiles(paths.inboundDbPath(ag, id), paths.outboundDbPath(ag, id));
      return id;
    };
    collectGarbage();
    const times: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      ids.push(create(i));
      times.push(performance.now() - t0);
    }
    for (const id of ids) checkFolder(paths, ag, id);
    return times;
  } finally {
    db.close();
  }
}

async function runtimeCreates(ds: Dataset, count: number): Promise<number[]> {
  const rt = await createRuntime({ dataDir: ds.dataDir, driver: 'none' });
  const times: number[] = [];
  const ids: string[] = [];
  try {
    collectGarbage();
    for (let i = 0; i < count; i++) {
      const args = {
        agentGroupId: ds.agentGroupId,
        messagingGroupId: ds.messagingGroupId,
        threadId: `c-${i}`,
        mode: 'per-thread' as const,
      };
      const t0 = performance.now();
      const r = await rt.resolveSession(args);
      times.push(performance.now() - t0);
      check(r.created, `cold resolveSession of c-${i} did not create a session`);
      ids.push(r.session.id);
    }
  } finally {
    await rt.close();
  }
  check(new Set(ids).size === count, 'cold resolveSession returned the same session twice');
  const paths = createPaths(ds.dataDir);
  for (const id of ids) checkFolder(paths, ds.agentGroupId, id);
  return times;
}

// ------------------------------------------------------------------------------- entry point

export async function runResolveBench(opts: CommonBenchOptions = {}): Promise<BenchReport> {
  const quick = opts.quick === true;
  const runCount = opts.runs ?? DEFAULT_RUNS;
  const warmKeys = quick ? 1000 : 10_000;
  const warmCalls = quick ? 5000 : 20_000;
  const coldCalls = quick ? 30 : 300;
  const root = opts.tmpRoot ?? tmpdir();
  const runs = new Runs();
  const details: unknown[] = [];
  const order = visitOrder(warmKeys, warmCalls);
  const keep = (dir: string) => {
    if (opts.keepDirs) log(opts.verbose, `kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };
  const warmDir = mkdtempSync(join(root, 'sa-bench-resolve-warm-'));
  try {
    log(opts.verbose, `resolve: building ${warmKeys} sessions …`);
    const warm = buildDataset({ dataDir: warmDir, sessions: warmKeys });
    for (let run = 1; run <= runCount; run++) {
      log(opts.verbose, `resolve: run ${run}/${runCount}: warm, ${warmCalls} lookups each …`);
      const plain = summarize(plainLookups(warm, order));
      const rt = summarize(await runtimeLookups(warm, order));
      log(opts.verbose, `resolve: run ${run}/${runCount}: cold, ${coldCalls} creations each …`);
      const naiveDir = mkdtempSync(join(root, 'sa-bench-resolve-naive-'));
      const rtDir = mkdtempSync(join(root, 'sa-bench-resolve-cold-'));
      let naive: Timed;
      let cold: Timed;
      try {
        naive = summarize(naiveCreates(buildDataset({ dataDir: naiveDir, sessions: 0 }), coldCalls));
        cold = summarize(await runtimeCreates(buildDataset({ dataDir: rtDir, sessions: 0 }), coldCalls));
      } finally {
        keep(naiveDir);
        keep(rtDir);
      }
      runs.add('resolve.warm.rate', { value: rt.perSec, baseline: plain.perSec });
      runs.add('resolve.warm.p99', { value: rt.p99Us, baseline: plain.p99Us });
      runs.add('resolve.cold.rate', { value: cold.perSec, baseline: naive.perSec });
      runs.add('resolve.cold.p99', { value: cold.p99Us / 1000, baseline: naive.p99Us / 1000 });
      details.push({ warm: { runtime: rt, plain }, cold: { runtime: cold, naive } });
    }
  } finally {
    keep(warmDir);
  }
  return finishReport(opts, {
    bench: 'resolve',
    quick,
    runs: runCount,
    method: {
      warm: `${warmKeys} per-thread sessions (bench/dataset.ts); each path visits every key once untimed, then ${warmCalls} resolutions in a fixed shuffled order, one at a time (awaited), each timed; runtime: createRuntime({ driver: 'none' }) + resolveSession; baseline: resolution key + prepared SELECT on session_keys JOIN sessions + existsSync(session folder), on its own v2.db connection before the runtime opens`,
      cold: `${coldCalls} new per-thread keys, one at a time, fresh data dir per path; runtime: resolveSession; naive: BEGIN IMMEDIATE on v2.db (WAL, synchronous=NORMAL) with key check + sessions row + session_keys row, COMMIT; mkdir inbox/ and outbox/; inbound.db and outbound.db created with their schemas (journal_mode=DELETE, one transaction each)`,
      rates: 'calls ÷ sum of the timed calls; p99 over the same per-call times',
    },
    figures: runs.figures(FIGURES),
    details,
  });
}
