/**
 * Host-only bookkeeping inside `inbound.db`, in tables of the host's own (containers ignore tables
 * they do not know, and FORMAT.md's tables keep exactly their columns). Each is created the first
 * time it is written, inside the caller's transaction, so it commits with the rows it describes.
 *
 * - `host_outbound_progress`: the poll watermark — every `messages_out` row up to this rowid is
 *   settled (delivered or failed). Kept in the same file and transaction as `delivered`, so the
 *   two never disagree, across crashes and restarts (test/runtime/poll.test.ts).
 * - `host_delivery_errors`: why a row was recorded `failed` (`delivered` has no column for it).
 * - `host_outbound_origin`: ids of the `messages_out` rows the host itself wrote (a
 *   `writeOutboundDirect` while stopped): they are the orchestrator's own, not the container's.
 * - `host_outbound_deferred`: rows past the watermark whose `deliver_after` is still ahead; the
 *   watermark passes them (they hold nothing back) and polls read them again when due.
 */
import type { Db } from './session-db.js';
import { stmt } from './statements.js';

const PROGRESS = 'host_outbound_progress';
const ERRORS = 'host_delivery_errors';
const DEFERRED = 'host_outbound_deferred';
const HOST_ROWS = 'host_outbound_origin';

function hasTable(db: Db, name: string): boolean {
  return stmt(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** The poll watermark (a `messages_out` rowid), 0 when none was written yet. */
export function readOutboundProgress(db: Db): number {
  if (!hasTable(db, PROGRESS)) return 0;
  const row = stmt(db, `SELECT settled_rowid AS r FROM ${PROGRESS} WHERE id = 1`).get() as { r: unknown } | undefined;
  return typeof row?.r === 'number' && Number.isSafeInteger(row.r) && row.r > 0 ? row.r : 0;
}

export function writeOutboundProgress(db: Db, rowid: number): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${PROGRESS} (id INTEGER PRIMARY KEY CHECK (id = 1), settled_rowid INTEGER NOT NULL)`,
  );
  stmt(
    db,
    `INSERT INTO ${PROGRESS} (id, settled_rowid) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET settled_rowid = excluded.settled_rowid`,
  ).run(rowid);
}

export function recordDeliveryError(db: Db, messageOutId: string, error: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${ERRORS} (message_out_id TEXT PRIMARY KEY, error TEXT NOT NULL)`);
  stmt(db, `INSERT OR REPLACE INTO ${ERRORS} (message_out_id, error) VALUES (?, ?)`).run(messageOutId, error);
}

/** Why `messageOutId` was recorded failed, when the host kept a reason. */
export function deliveryError(db: Db, messageOutId: string): string | undefined {
  if (!hasTable(db, ERRORS)) return undefined;
  const row = stmt(db, `SELECT error FROM ${ERRORS} WHERE message_out_id = ?`).get(messageOutId) as
    { error: string } | undefined;
  return row?.error;
}

/** Whether `messageOutId` has its `delivered` record (delivered or failed). */
export function isSettled(db: Db, messageOutId: string): boolean {
  return stmt(db, 'SELECT 1 FROM delivered WHERE message_out_id = ?').get(messageOutId) !== undefined;
}

/** Remembers rows due later (`due_at` as `datetime()` reads it), replacing what was known of each. */
export function deferRows(db: Db, rows: readonly { rowid: number; id: string; deliverAfter: string }[]): void {
  if (rows.length === 0) return;
  db.exec(`CREATE TABLE IF NOT EXISTS ${DEFERRED} (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL, due_at TEXT NOT NULL)`);
  const put = stmt(db, `INSERT OR REPLACE INTO ${DEFERRED} (rowid, id, due_at) VALUES (?, ?, datetime(?))`);
  for (const r of rows) put.run(r.rowid, r.id, r.deliverAfter);
}

/** The remembered rows whose time has come, oldest first, at most `limit`. */
export function dueDeferred(db: Db, nowIso: string, limit: number): number[] {
  if (!hasTable(db, DEFERRED)) return [];
  return stmt(db, `SELECT rowid FROM ${DEFERRED} WHERE due_at <= datetime(?) ORDER BY due_at, rowid LIMIT ?`)
    .pluck()
    .all(nowIso, limit) as number[];
}

export function forgetDeferred(db: Db, rowids: readonly number[]): void {
  if (rowids.length === 0 || !hasTable(db, DEFERRED)) return;
  const del = stmt(db, `DELETE FROM ${DEFERRED} WHERE rowid = ?`);
  for (const r of rowids) del.run(r);
}

/** How many rows are remembered as due later. */
export function countDeferred(db: Db): number {
  if (!hasTable(db, DEFERRED)) return 0;
  return (stmt(db, `SELECT COUNT(*) AS n FROM ${DEFERRED}`).get() as { n: number }).n;
}

/** Where a `messages_out` row is addressed. */
export interface RowAddress {
  channel_type: string | null;
  platform_id: string | null;
  thread_id: string | null;
}

/** Notes that the host wrote `messages_out` row `id`, addressed to `address`, itself. */
export function markHostRow(db: Db, id: string, address: RowAddress): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${HOST_ROWS} (id TEXT PRIMARY KEY, channel_type TEXT, platform_id TEXT, thread_id TEXT)`,
  );
  stmt(db, `INSERT OR REPLACE INTO ${HOST_ROWS} (id, channel_type, platform_id, thread_id) VALUES (?, ?, ?, ?)`).run(
    id,
    address.channel_type,
    address.platform_id,
    address.thread_id,
  );
}

/**
 * Whether `messages_out` row `id` is one the host wrote itself. The address must match the one
 * recorded: a container that replaces the host's row by one of the same id addressed elsewhere
 * gets its own row's checks (test/runtime/destinations.test.ts).
 */
export function isHostRow(db: Db, id: string, address: RowAddress): boolean {
  if (!hasTable(db, HOST_ROWS)) return false;
  return (
    stmt(
      db,
      `SELECT 1 FROM ${HOST_ROWS} WHERE id = ? AND channel_type IS ? AND platform_id IS ? AND thread_id IS ?`,
    ).get(id, address.channel_type, address.platform_id, address.thread_id) !== undefined
  );
}
