/**
 * Opening the two session DBs: the only way the host touches `inbound.db` and `outbound.db`.
 * Both live in a folder the container controls, so every open goes through `openVerified`.
 *
 * Invariants (FORMAT.md "The three cross-process invariants"), guarded by test/store/session-db.test.ts
 * unless noted:
 * 1. journal_mode is DELETE on creation and on every writable open, never WAL
 *    ("every session DB reports journal_mode delete").
 * 2. Every helper opens, does its work and closes before it returns, on success and on throw;
 *    no handle outlives a call ("leaves no session DB file descriptor open").
 * 3. The host writes `inbound.db` only through `withInbound` (one open → transaction → close
 *    cycle per batch) and writes `outbound.db` only through `withOutboundWhileStopped`, which
 *    refuses with CONTAINER_RUNNING unless the container status it is handed is `stopped`.
 * 4. Every open is verified (src/store/verified-open.ts): a symlink, hard link, non-regular or
 *    swapped file is refused with `STORAGE` carrying a violation, and a missing file is never
 *    created except by `createSessionDbs` (test/store/hostile-container.test.ts). Side files of a
 *    DB the host may write are repaired and reported; those of `outbound.db` opened for reading
 *    refuse the read.
 * 5. A file that SQLite finds corrupt or not a database gives `STORAGE` with violation
 *    `corrupt-db`; `readOutbound` throws nothing but `RuntimeError` for SQLite's errors (a missing
 *    table of the container's file counts as `corrupt-db` too) and passes the callback's own
 *    errors through (test/store/hostile-container.test.ts, "corrupt outbound.db").
 */
import type Database from 'better-sqlite3';
import { basename } from 'node:path';
import { RuntimeError } from '../errors.js';
import { violation, violationError } from '../files/container-violation.js';
import { ensureInboundSchema, ensureOutboundSchema, migrateInbound } from './session-schema.js';
import { isCorruptionError, openVerified, type GuardOptions } from './verified-open.js';

export type { GuardOptions } from './verified-open.js';
export type ContainerStatus = 'stopped' | 'running' | 'idle';
export type Db = Database.Database;

const BUSY_TIMEOUT_MS = 5000;

function isSqliteError(error: unknown): error is Error & { code: string } {
  return (
    error instanceof Error && error.name === 'SqliteError' && typeof (error as { code?: unknown }).code === 'string'
  );
}

/**
 * Turns SQLite's verdict that `path` is not a sound database into the `corrupt-db` violation.
 * With `strict` (the container's file), every other SQLite error becomes `STORAGE` as well, and a
 * missing table is the container's doing. Anything else is returned unchanged.
 */
function classify(error: unknown, path: string, strict: boolean): unknown {
  if (error instanceof RuntimeError || !isSqliteError(error)) return error;
  const name = basename(path);
  if (isCorruptionError(error) || (strict && /^no such table/.test(error.message))) {
    return violationError(
      violation('corrupt-db', path, `${name} is not a sound SQLite database: ${error.message}`),
      error,
    );
  }
  if (!strict) return error;
  return new RuntimeError('STORAGE', `reading ${name} failed: ${error.message}`, { cause: error });
}

function openWritable(path: string, create: boolean, guard: GuardOptions): Db {
  const db = openVerified(path, { ...guard, readonly: false, create, sideFiles: 'remove', timeout: BUSY_TIMEOUT_MS });
  try {
    const mode = db.pragma('journal_mode = DELETE', { simple: true });
    if (mode !== 'delete') throw new Error(`journal_mode stayed ${String(mode)}`);
    return db;
  } catch (error) {
    db.close();
    throw classify(error, path, false);
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

function createOne(path: string, schema: (db: Db) => void, guard: GuardOptions): void {
  const db = openWritable(path, true, guard);
  try {
    // One transaction per file: one sync to disk instead of one per CREATE statement.
    immediateTransaction(db, schema);
  } catch (error) {
    throw classify(error, path, false);
  } finally {
    closeQuietly(db);
  }
}

/**
 * Creates (or repairs) both session DBs with their schemas; both are closed on return. The only
 * helper that creates a missing file, exclusively (never through a planted link).
 */
export function createSessionDbs(inboundPath: string, outboundPath: string, options: GuardOptions = {}): void {
  createInboundDb(inboundPath, options);
  createOne(outboundPath, ensureOutboundSchema, options);
}

/** Creates `outbound.db` alone, exclusively (the host replaces an unusable one while stopped). */
export function createOutboundDb(outboundPath: string, options: GuardOptions = {}): void {
  createOne(outboundPath, ensureOutboundSchema, options);
}

/** `createSessionDbs` for `inbound.db` alone (a rebuild must not recreate the container's file). */
export function createInboundDb(inboundPath: string, options: GuardOptions = {}): void {
  createOne(inboundPath, ensureInboundSchema, options);
}

/**
 * Runs `fn` inside one `BEGIN IMMEDIATE … COMMIT` on `inbound.db` and closes the file before
 * returning. `fn` must be synchronous (better-sqlite3 transactions cannot span an await).
 * Nested `db.transaction(...)` calls inside `fn` become savepoints, which is how a batch lets
 * one operation fail alone. A missing `inbound.db` throws `STORAGE` (violation `missing`); it is
 * never recreated here (see `repairInbound`).
 */
export function withInbound<T>(
  path: string,
  fn: (db: Db) => T,
  options: { migrate?: boolean; durable?: boolean } & GuardOptions = {},
): T {
  const db = openWritable(path, false, options);
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
  } catch (error) {
    throw classify(error, path, false);
  } finally {
    closeQuietly(db);
  }
}

function readOnly<T>(path: string, fn: (db: Db) => T, sideFiles: 'remove' | 'refuse', guard: GuardOptions): T {
  const db = openVerified(path, { ...guard, readonly: true, sideFiles, timeout: BUSY_TIMEOUT_MS });
  try {
    return fn(db);
  } catch (error) {
    throw classify(error, path, sideFiles === 'refuse');
  } finally {
    closeQuietly(db);
  }
}

/**
 * Opens `outbound.db` read-only for one read and closes it right after. The container owns the
 * file: any refusal, and any SQLite error, is a `RuntimeError('STORAGE')` (a corrupt or foreign
 * file carries the violation `corrupt-db`); errors the callback throws itself pass through.
 */
export function readOutbound<T>(path: string, fn: (db: Db) => T, options: GuardOptions = {}): T {
  return readOnly(path, fn, 'refuse', options);
}

/**
 * Opens `inbound.db` read-only (for reads that need no write lock) and closes it right after. Side
 * files that are links are removed (the host owns the file), unless `sideFiles: 'refuse'` (a
 * read-only observer, which changes nothing).
 */
export function readInbound<T>(
  path: string,
  fn: (db: Db) => T,
  options: GuardOptions & { sideFiles?: 'remove' | 'refuse' } = {},
): T {
  return readOnly(path, fn, options.sideFiles ?? 'remove', options);
}

/**
 * Whether `error` (or its cause) is SQLite refusing a read-only connection because the file has a
 * hot journal: its writer died in the middle of a transaction, and only a writable connection may
 * roll it back.
 */
export function isHotJournalError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    if ((current as { code?: unknown }).code === 'SQLITE_READONLY_ROLLBACK') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Rolls back the hot journal of a container killed mid-write by opening `outbound.db` writable
 * for an empty transaction: through `withOutboundWhileStopped`, so only while stopped.
 */
export function rollBackOutbound(path: string, status: ContainerStatus, options: GuardOptions = {}): void {
  withOutboundWhileStopped(path, status, () => undefined, options);
}

/**
 * The host's only write path into `outbound.db`, allowed solely while no container runs for the
 * session (invariant 3). `status` is the session's container status as its actor sees it.
 */
export function withOutboundWhileStopped<T>(
  path: string,
  status: ContainerStatus,
  fn: (db: Db) => T,
  options: GuardOptions = {},
): T {
  if (status !== 'stopped') {
    throw new RuntimeError(
      'CONTAINER_RUNNING',
      `outbound.db may be written by the host only while stopped (${status})`,
    );
  }
  const db = openWritable(path, false, options);
  try {
    ensureOutboundSchema(db);
    return immediateTransaction(db, fn);
  } catch (error) {
    throw classify(error, path, false);
  } finally {
    closeQuietly(db);
  }
}
