/**
 * One thread of the disk benchmark (bench/disk.ts): sets up its own file, waits at the shared
 * gate so that every thread starts at once, then repeats one durable commit until its time is up
 * and posts how many it did.
 *
 * Invariants:
 * 1. Every counted operation is durable before the next starts: `fsync` = pwrite of one 4 KiB
 *    block at offset 0 of this thread's own preallocated file, then fdatasync; `sqlite-commit` =
 *    open → BEGIN IMMEDIATE → insert one row → COMMIT (synchronous=FULL, journal_mode=DELETE)
 *    → close, on this thread's own `inbound.db`-shaped file.
 * 2. No thread touches another's file; the gate opens only after every thread posted `ready`.
 */
import Database from 'better-sqlite3';
import { closeSync, fdatasyncSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { INSERT_MESSAGE_IN, messageInParams } from './rows.js';

export interface DiskTask {
  kind: 'fsync' | 'sqlite-commit';
  /** This thread's own file: created for `fsync`, an existing inbound.db for `sqlite-commit`. */
  path: string;
  durationMs: number;
  /** Int32 slot 0 turns 1 when every thread may start. */
  gate: SharedArrayBuffer;
  thread: number;
}

export interface DiskThreadResult {
  ops: number;
  ms: number;
}

const BLOCK = 4096;

function runFsync(task: DiskTask, wait: () => void): DiskThreadResult {
  const fd = openSync(task.path, 'w+');
  try {
    const block = Buffer.alloc(BLOCK, 0x5a);
    writeSync(fd, block, 0, BLOCK, 0);
    fsyncSync(fd); // allocation and size are durable before timing: the loop only rewrites data
    wait();
    const t0 = performance.now();
    const end = t0 + task.durationMs;
    let ops = 0;
    let now = t0;
    while (now < end) {
      block[0] = ops & 0xff;
      writeSync(fd, block, 0, BLOCK, 0);
      fdatasyncSync(fd);
      ops++;
      now = performance.now();
    }
    return { ops, ms: now - t0 };
  } finally {
    closeSync(fd);
  }
}

function runSqliteCommit(task: DiskTask, wait: () => void): DiskThreadResult {
  const content = JSON.stringify({ text: 'a durable commit', sender: 'bench' });
  wait();
  const t0 = performance.now();
  const end = t0 + task.durationMs;
  let ops = 0;
  let now = t0;
  while (now < end) {
    const db = new Database(task.path, { fileMustExist: true });
    try {
      db.exec('BEGIN IMMEDIATE');
      const seq = 2 * (ops + 1);
      const id = `t${task.thread}-${ops}`;
      db.prepare(INSERT_MESSAGE_IN).run(
        ...messageInParams({ id, kind: 'chat', timestamp: '2026-01-01T00:00:00.000Z', content }, seq),
      );
      db.exec('COMMIT');
    } finally {
      db.close();
    }
    ops++;
    now = performance.now();
  }
  return { ops, ms: now - t0 };
}

if (parentPort !== null) {
  const task = workerData as DiskTask;
  const port = parentPort;
  const gate = new Int32Array(task.gate);
  const wait = () => {
    port.postMessage({ ready: true });
    Atomics.wait(gate, 0, 0);
  };
  const result = task.kind === 'fsync' ? runFsync(task, wait) : runSqliteCommit(task, wait);
  port.postMessage({ result });
}
