/**
 * One owner per data directory (API.md "Ownership of a data directory"): a runtime that may
 * reconcile, sweep and run containers holds an operating-system lock on `<dataDir>/v2.db.lock`.
 *
 * Invariants (guarded by test/runtime/ownership.test.ts):
 * 1. At most one owner: a second `acquire` on an owned directory — from this process or another —
 *    throws `DATA_DIR_LOCKED` naming the owner's pid ("two processes race to own one data
 *    directory: exactly one wins").
 * 2. The lock is SQLite's own write lock (a POSIX record lock held by an open write transaction
 *    that never writes a page), so the operating system releases it when the owner dies, SIGKILL
 *    included, and the next owner takes over at once: no stale-lock timeout, no hot journal
 *    ("after the winner is SIGKILLed the other takes over").
 * 3. `release` (a clean `close()`) frees it for the next owner in this process or another.
 *
 * The owner's pid is informational and lives beside the lock in `v2.db.owner` (written after the
 * lock is won, by rename, so a reader never sees half of it).
 */
import Database from 'better-sqlite3';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';

export const LOCK_FILE = 'v2.db.lock';
export const OWNER_FILE = 'v2.db.owner';

export interface OwnerInfo {
  pid: number;
  startedAt: string;
}

/** The owner recorded beside the lock, if its file is readable. */
export function readOwner(dataDir: string): OwnerInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(join(dataDir, OWNER_FILE), 'utf8')) as Partial<OwnerInfo>;
    return typeof info.pid === 'number' ? { pid: info.pid, startedAt: String(info.startedAt) } : undefined;
  } catch {
    // Missing or half-written by an older writer: the pid is informational only.
    return undefined;
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

export class DataDirLock {
  private constructor(
    private readonly dataDir: string,
    private readonly db: Database.Database,
  ) {}

  /** Takes the data directory for this runtime, or throws `DATA_DIR_LOCKED`. */
  static acquire(dataDir: string, now: Date): DataDirLock {
    const db = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
    try {
      db.pragma('journal_mode = DELETE');
      db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      db.close();
      if (!isBusy(error)) throw error;
      const owner = readOwner(dataDir);
      throw new RuntimeError(
        'DATA_DIR_LOCKED',
        `data directory ${dataDir} is owned by another runtime${owner ? ` (pid ${owner.pid})` : ''}`,
        { cause: error },
      );
    }
    const info: OwnerInfo = { pid: process.pid, startedAt: now.toISOString() };
    const tmp = join(dataDir, `${OWNER_FILE}.${process.pid}.tmp`);
    writeFileSync(tmp, `${JSON.stringify(info)}\n`);
    renameSync(tmp, join(dataDir, OWNER_FILE));
    return new DataDirLock(dataDir, db);
  }

  release(): void {
    if (!this.db.open) return;
    const owner = readOwner(this.dataDir);
    if (owner?.pid === process.pid) rmSync(join(this.dataDir, OWNER_FILE), { force: true });
    this.db.exec('ROLLBACK');
    this.db.close();
  }
}
