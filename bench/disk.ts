/**
 * Disk benchmark (issue 12 item 1): the physical limits every other figure is measured against.
 *
 * - Durable writes/s at queue depth 1 and 8: each thread (a `worker_threads` Worker) owns one
 *   preallocated file and repeats "pwrite one 4 KiB block at offset 0, fdatasync"; QD8 is 8 such
 *   threads on 8 distinct files at once. This is the cheapest durable write the disk allows.
 * - Durable SQLite commits/s at QD1 and QD8: each thread owns one `inbound.db` (real schema,
 *   journal_mode=DELETE, synchronous=FULL) and repeats what one session commit costs: open →
 *   BEGIN IMMEDIATE → insert one `messages_in` row → COMMIT → close.
 * - Raw SQLite insert ceiling: rows/s of one prepared INSERT into `messages_in`, all rows in one
 *   transaction, synchronous=OFF (no sync at all), on the main thread.
 *
 * Invariants:
 * 1. Every thread starts at the same instant (a shared gate opened after all are ready) and runs
 *    for the same time; a rate is the operations of all threads over the longest thread's time.
 * 2. Each run uses fresh files in a fresh temp dir, removed afterwards.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { createSessionDbFiles } from './dataset.js';
import type { DiskTask, DiskThreadResult } from './disk-worker.js';
import { Runs, type FigureDef } from './figures.js';
import { buildMessages } from './messages.js';
import { INSERT_MESSAGE_IN, messageInParams } from './rows.js';
import { DEFAULT_RUNS, finishReport, log, type BenchReport, type CommonBenchOptions } from './util.js';

export interface RateResult {
  /** Operations per second over all threads. */
  perSec: number;
  ops: number;
  ms: number;
  threads: number;
}

/** The worker: compiled, `disk-worker.js` beside this file; from source (tsx), the .ts through tsx's loader. */
function newDiskWorker(task: DiskTask): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./disk-worker.js', import.meta.url), { workerData: task });
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./disk-worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(api)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: task });
}

/** Runs `threads` disk threads of `kind` in `dir` for `durationMs`, all started at once. */
export async function measureThreads(
  kind: DiskTask['kind'],
  dir: string,
  threads: number,
  durationMs: number,
): Promise<RateResult> {
  const gate = new SharedArrayBuffer(4);
  const paths = Array.from({ length: threads }, (_, t) => join(dir, `${kind}-qd${threads}-${t}.db`));
  if (kind === 'sqlite-commit') for (const p of paths) createSessionDbFiles(p, `${p}.out`);
  const workers = paths.map((path, thread) => newDiskWorker({ kind, path, durationMs, gate, thread }));
  const ready: Promise<void>[] = [];
  const results: Promise<DiskThreadResult>[] = [];
  for (const w of workers) {
    let onReady!: () => void;
    ready.push(new Promise<void>((r) => (onReady = r)));
    results.push(
      new Promise<DiskThreadResult>((resolve, reject) => {
        w.on('message', (m: { ready?: true; result?: DiskThreadResult }) => {
          if (m.ready) onReady();
          if (m.result) resolve(m.result);
        });
        w.on('error', reject);
        w.on('exit', (code) => reject(new Error(`disk thread exited with code ${code} before reporting`)));
      }),
    );
  }
  try {
    // A thread that fails before it is ready rejects its result: do not wait for it forever.
    await Promise.race([Promise.all(ready), Promise.all(results)]);
    const flag = new Int32Array(gate);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    const done = await Promise.all(results);
    const ops = done.reduce((n, r) => n + r.ops, 0);
    const ms = Math.max(...done.map((r) => r.ms));
    return { perSec: ops / (ms / 1000), ops, ms, threads };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Rows/s of prepared inserts into a `messages_in` table in one transaction, no sync. */
export function measureInsertCeiling(dir: string, rows: number): RateResult {
  const path = join(dir, 'ceiling.db');
  createSessionDbFiles(path, `${path}.out`);
  const perSession = 1000;
  const messages = buildMessages(Math.ceil(rows / perSession), perSession, () => ({
    channelType: 'bench',
    platformId: 'C-bench',
    threadId: 't-0',
  })).flat();
  messages.length = rows;
  const params = messages.map((m, i) => messageInParams(m, 2 * (i + 1)));
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('synchronous = OFF');
    const insert = db.prepare(INSERT_MESSAGE_IN);
    const t0 = performance.now();
    db.exec('BEGIN IMMEDIATE');
    for (const p of params) insert.run(...p);
    db.exec('COMMIT');
    const ms = performance.now() - t0;
    return { perSec: rows / (ms / 1000), ops: rows, ms, threads: 1 };
  } finally {
    db.close();
  }
}

export interface DiskLimits {
  fsyncQd1: RateResult;
  fsyncQd8: RateResult;
  sqliteQd1: RateResult;
  sqliteQd8: RateResult;
  insertCeiling: RateResult;
}

/** The QD8 durable SQLite commit rate alone (the limit of many one-message sessions). */
export async function measureSqliteQd8(root: string, durationMs: number): Promise<RateResult> {
  const dir = mkdtempSync(join(root, 'sa-bench-disk-'));
  try {
    return await measureThreads('sqlite-commit', dir, 8, durationMs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The QD1 durable SQLite commit rate alone. */
export async function measureSqliteQd1(root: string, durationMs: number): Promise<RateResult> {
  const dir = mkdtempSync(join(root, 'sa-bench-disk-'));
  try {
    return await measureThreads('sqlite-commit', dir, 1, durationMs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows/s of the raw insert ceiling alone. */
export function measureInsertCeilingIn(root: string, rows: number): RateResult {
  const dir = mkdtempSync(join(root, 'sa-bench-disk-'));
  try {
    return measureInsertCeiling(dir, rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureDiskLimits(root: string, durationMs: number, ceilingRows: number): Promise<DiskLimits> {
  const dir = mkdtempSync(join(root, 'sa-bench-disk-'));
  try {
    return {
      fsyncQd1: await measureThreads('fsync', dir, 1, durationMs),
      fsyncQd8: await measureThreads('fsync', dir, 8, durationMs),
      sqliteQd1: await measureThreads('sqlite-commit', dir, 1, durationMs),
      sqliteQd8: await measureThreads('sqlite-commit', dir, 8, durationMs),
      insertCeiling: measureInsertCeiling(dir, ceilingRows),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const DISK_FIGURES: readonly FigureDef[] = [
  {
    key: 'disk.fsync.qd1',
    label: 'durable 4 KiB writes, QD1 (1 thread, own file, pwrite + fdatasync)',
    unit: 'syncs/s',
    better: 'higher',
  },
  {
    key: 'disk.fsync.qd8',
    label: 'durable 4 KiB writes, QD8 (8 threads, 8 distinct files)',
    unit: 'syncs/s',
    better: 'higher',
    baseline: 'QD1',
  },
  {
    key: 'disk.sqlite.qd1',
    label: 'durable SQLite commits, QD1 (open → BEGIN IMMEDIATE → 1 row → COMMIT → close)',
    unit: 'commits/s',
    better: 'higher',
    limit: 'durable writes QD1',
    limitUnit: 'syncs/s',
  },
  {
    key: 'disk.sqlite.qd8',
    label: 'durable SQLite commits, QD8 (8 threads, 8 distinct files)',
    unit: 'commits/s',
    better: 'higher',
    baseline: 'QD1',
    limit: 'durable writes QD8',
    limitUnit: 'syncs/s',
  },
  {
    key: 'disk.insert.ceiling',
    label: 'raw SQLite insert ceiling (prepared INSERT into messages_in, one transaction, no sync)',
    unit: 'rows/s',
    better: 'higher',
  },
];

export async function runDiskBench(opts: CommonBenchOptions = {}): Promise<BenchReport> {
  const quick = opts.quick === true;
  const runs = opts.runs ?? DEFAULT_RUNS;
  const durationMs = quick ? 500 : 2000;
  const ceilingRows = quick ? 50_000 : 200_000;
  const root = opts.tmpRoot ?? tmpdir();
  const collected = new Runs();
  const details: DiskLimits[] = [];
  for (let run = 1; run <= runs; run++) {
    log(opts.verbose, `disk: run ${run}/${runs} (${durationMs} ms per rate) …`);
    const l = await measureDiskLimits(root, durationMs, ceilingRows);
    details.push(l);
    collected.add('disk.fsync.qd1', { value: l.fsyncQd1.perSec });
    collected.add('disk.fsync.qd8', { value: l.fsyncQd8.perSec, baseline: l.fsyncQd1.perSec });
    collected.add('disk.sqlite.qd1', { value: l.sqliteQd1.perSec, limit: l.fsyncQd1.perSec });
    collected.add('disk.sqlite.qd8', {
      value: l.sqliteQd8.perSec,
      baseline: l.sqliteQd1.perSec,
      limit: l.fsyncQd8.perSec,
    });
    collected.add('disk.insert.ceiling', { value: l.insertCeiling.perSec });
  }
  const figures = collected.figures(DISK_FIGURES);
  return finishReport(
    opts,
    {
      bench: 'disk',
      quick,
      runs,
      method: {
        durableWrites: `worker_threads, each on its own preallocated file in ${root}: pwrite 4 KiB at offset 0 then fdatasync, repeated for ${durationMs} ms; all threads start at one gate; rate = all operations ÷ the longest thread's time`,
        sqliteCommits: `worker_threads, each on its own inbound.db (real schema, journal_mode=DELETE, synchronous=FULL): new Database → BEGIN IMMEDIATE → prepare + run one INSERT into messages_in → COMMIT → close, repeated for ${durationMs} ms`,
        insertCeiling: `main thread, one inbound.db, synchronous=OFF: BEGIN IMMEDIATE, ${ceilingRows} prepared INSERTs of pre-built rows, COMMIT; rows ÷ time`,
        runs: `${runs} runs, fresh files each`,
      },
      figures,
      details,
    },
    [
      'QD1 is one thread; QD8 is 8 threads on 8 distinct files at once. "of limit" for SQLite commits: SQLite commits ÷ raw durable writes at the same queue depth (a DELETE-journal commit costs several syncs).',
    ],
  );
}
