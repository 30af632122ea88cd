/**
 * Opening the two session DBs: the only way the host touches `inbound.db` and `outbound.db`.
 *
 * Invariants (FORMAT.md "The three cross-process invariants"), guarded by test/store/session-db.test.ts:
 * 1. journal_mode is DELETE on creation and on every writable open, never WAL
 *    ("every session DB reports journal_mode delete").
 * 2. Every helper opens, does its work and closes before it returns, on success and on throw;
 *    no handle outlives a call ("leaves no session DB file descriptor open").
 * 3. The host writes `inbound.db` only through `withInbound` (one open → transaction → close
 *    cycle per batch) and writes `outbound.db` only through `withOutboundWhileStopped`, which
 *    refuses with CONTAINER_RUNNING unless the container status it is handed is `stopped`.
 */
import Database from 'better-sqlite3';
import { RuntimeError } from '../errors.js';
import { ensureInboundSchema, ensureOutboundSchema, migrateInbound } from './session-schema.js';

export type ContainerStatus = 'stopped' | 'running' | 'idle';
export type Db = Database.Database;

const BUSY_TIMEOUT_MS = 5000;

function openWritable(path: string, create: boolean): Db {
  const db = new Database(path, { fileMustExist: !create, timeout: BUSY_TIMEOUT_MS });
  try {
    const mode = db.pragma('journal_mode = DELETE', { simple: true });
    if (mode !== 'delete') throw new Error(`journal_mode stayed ${String(mode)}`);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function closeQuietly(db: Db): void {
  if (db.open) db.close();
}

/**
 * Runs `fn` between `BEGIN IMMEDIATE` and `COMMIT`, rolling back if it (or the COMMIT) throws.
 * Written out rather than `db.transaction(fn).immediate()`, which prepares nine statements the
 * first time it meets a connection, and every connection here is new. A `db.transaction(...)`
 * called inside `fn` still becomes a savepoint.
 */
export function immediateTransaction<T>(db: Db, fn: (db: Db) => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn(db);
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

/** Creates (or repairs) both session DBs with their schemas; both are closed on return. */
export function createSessionDbs(inboundPath: string, outboundPath: string): void {
  const inbound = openWritable(inboundPath, true);
  try {
    // One transaction per file: one sync to disk instead of one per CREATE statement.
    immediateTransaction(inbound, ensureInboundSchema);
  } finally {
    closeQuietly(inbound);
  }
  const outbound = openWritable(outboundPath, true);
  try {
    immediateTransaction(outbound, ensureOutboundSchema);
  } finally {
    closeQuietly(outbound);
  }
}

/**
 * Runs `fn` inside one `BEGIN IMMEDIATE … COMMIT` on `inbound.db` and closes the file before
 * returning. `fn` must be synchronous (better-sqlite3 transactions cannot span an await).
 * Nested `db.transaction(...)` calls inside `fn` become savepoints, which is how a batch lets
 * one operation fail alone.
 */
export function withInbound<T>(
  path: string,
  fn: (db: Db) => T,
  options: { migrate?: boolean; durable?: boolean } = {},
): T {
  const db = openWritable(path, false);
  try {
    // Only replay, rebuilding a scratch directory, gives up the sync to disk at COMMIT.
    if (options.durable === false) db.pragma('synchronous = OFF');
    // The column check runs under the write lock, so two host processes opening one old file
    // cannot both decide to add the same column. A caller that already migrated this file in
    // this process may skip it (`migrate: false`).
    return immediateTransaction(db, (d) => {
      if (options.migrate !== false) migrateInbound(d);
      return fn(d);
    });
  } finally {
    closeQuietly(db);
  }
}

function readOnly<T>(path: string, fn: (db: Db) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
  try {
    return fn(db);
  } finally {
    closeQuietly(db);
  }
}

/** Opens `outbound.db` read-only for one read and closes it right after. */
export function readOutbound<T>(path: string, fn: (db: Db) => T): T {
  return readOnly(path, fn);
}

/** Opens `inbound.db` read-only (for reads that need no write lock) and closes it right after. */
export function readInbound<T>(path: string, fn: (db: Db) => T): T {
  return readOnly(path, fn);
}

/**
 * The host's only write path into `outbound.db`, allowed solely while no container runs for the
 * session (invariant 3). `status` is the session's container status as its actor sees it.
 */
export function withOutboundWhileStopped<T>(path: string, status: ContainerStatus, fn: (db: Db) => T): T {
  if (status !== 'stopped') {
    throw new RuntimeError(
      'CONTAINER_RUNNING',
      `outbound.db may be written by the host only while stopped (${status})`,
    );
  }
  const db = openWritable(path, false);
  try {
    ensureOutboundSchema(db);
    return immediateTransaction(db, fn);
  } finally {
    closeQuietly(db);
  }
}
