/**
 * The worker threads that commit session batches, shared by every runtime of the process: SQLite
 * work (and its sync to disk) never blocks the orchestrator's event loop, and batches of different
 * sessions commit in parallel.
 *
 * Invariants (guarded by test/runtime/commit-threads.test.ts):
 * 1. Every job is answered exactly once, with its results, or — if its worker died — with every
 *    operation rejected `STORAGE`; a dead worker is replaced for later jobs.
 * 2. Threads start on demand, up to `size`; a thread keeps the process alive only while it has
 *    a job (a pending commit is awaited, an idle pool never holds the process open).
 * 3. Jobs go to the least busy thread; the callers (the commit scheduler) bound how many are in
 *    flight, so a thread's queue is short.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RuntimeError } from '../errors.js';
import { COMMIT_WORKER_ROLE, decodeReply, encodeJob, type CommitJob, type CommitReply } from './commit-worker.js';
import { toWire } from './wire.js';

type Done = (reply: CommitReply) => void;

interface Thread {
  worker: Worker;
  pending: Map<number, { job: CommitJob; done: Done }>;
}

let bundled: string | undefined;

/**
 * How to start a commit worker. Compiled (`dist`), it is `commit-worker.js` beside this module.
 * Run from TypeScript source (tests, tsx), the worker's module graph is bundled once per process
 * with esbuild (a development dependency) and started from that text: a worker thread does not
 * inherit the TypeScript loader of its parent.
 */
function workerSource(): { file: URL } | { code: string } {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return { file: new URL('./commit-worker.js', import.meta.url) };
  if (bundled === undefined) {
    const require = createRequire(import.meta.url);
    const esbuild = require('esbuild') as typeof import('esbuild');
    const sqlite = require.resolve('better-sqlite3');
    const out = esbuild.buildSync({
      entryPoints: [fileURLToPath(new URL('./commit-worker.ts', import.meta.url))],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['better-sqlite3'],
      logLevel: 'silent',
    });
    bundled = out.outputFiles[0]!.text.replaceAll('require("better-sqlite3")', `require(${JSON.stringify(sqlite)})`);
  }
  return { code: bundled };
}

/**
 * Threads for a machine: a commit mostly waits for the disk, so more threads than cores overlap
 * syncs (the disk's queue-depth-8 rate is several times its depth-1 rate); eight stay small.
 */
export function defaultThreadCount(): number {
  return Math.max(8, Math.min(16, availableParallelism() * 2));
}

export class CommitThreads {
  private static sharedPool: CommitThreads | undefined;
  private readonly threads: Thread[] = [];
  private nextId = 1;

  constructor(readonly size: number = defaultThreadCount()) {}

  /** The process-wide pool. */
  static shared(): CommitThreads {
    CommitThreads.sharedPool ??= new CommitThreads();
    return CommitThreads.sharedPool;
  }

  /** Commits `job` on a thread; `done` receives the reply (never an exception). */
  run(job: Omit<CommitJob, 'id'>, done: Done): void {
    const thread = this.pick();
    const full: CommitJob = { ...job, id: this.nextId++ };
    // A thread with work keeps the process alive until it answers; an idle one never does.
    if (thread.pending.size === 0) thread.worker.ref();
    thread.pending.set(full.id, { job: full, done });
    thread.worker.postMessage(encodeJob(full));
  }

  /**
   * Stops every thread. Jobs still on them are answered with every operation rejected `STORAGE`
   * (what a crashed thread gives too); a later `run` starts new threads.
   */
  async terminate(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  /** Threads started so far. */
  get started(): number {
    return this.threads.length;
  }

  private pick(): Thread {
    let best: Thread | undefined;
    for (const t of this.threads) if (best === undefined || t.pending.size < best.pending.size) best = t;
    if (best !== undefined && (best.pending.size === 0 || this.threads.length >= this.size)) return best;
    return this.spawn();
  }

  private spawn(): Thread {
    const source = workerSource();
    const options = { workerData: { role: COMMIT_WORKER_ROLE } };
    const worker =
      'file' in source ? new Worker(source.file, options) : new Worker(source.code, { ...options, eval: true });
    const thread: Thread = { worker, pending: new Map() };
    worker.on('message', (message: CommitReply | string) => {
      const reply = decodeReply(message);
      const p = thread.pending.get(reply.id);
      if (p === undefined) return;
      thread.pending.delete(reply.id);
      if (thread.pending.size === 0) worker.unref();
      p.done(reply);
    });
    const fail = (error: unknown) => {
      const index = this.threads.indexOf(thread);
      if (index !== -1) this.threads.splice(index, 1);
      const pending = [...thread.pending.values()];
      thread.pending.clear();
      for (const { job, done } of pending) {
        const failure = new RuntimeError('STORAGE', 'the commit thread died', { cause: error });
        done({
          id: job.id,
          results: toWire(
            Array.from({ length: job.ops.n }, (_, i) => ({
              requestId: String(i),
              kind: 'op',
              ok: false,
              error: failure,
            })),
          ),
          warnings: [],
          queued: [],
          settled: [],
          violations: [],
        });
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`commit thread exited with code ${code}`)));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
    this.threads.push(thread);
    return thread;
  }
}
