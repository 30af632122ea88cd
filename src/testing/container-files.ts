/**
 * The container's side of a session folder, as a real container touches it (docs/agent.md): the
 * SQL of the fake container, written out on its own like the reference agent's, sharing nothing
 * with the host's store.
 *
 * Invariants (test/testing/fake-container.test.ts):
 * 1. `inbound.db` is only ever opened read-only; `outbound.db` is opened for one
 *    `BEGIN IMMEDIATE … COMMIT` with `journal_mode=DELETE`; every open is closed before the
 *    function returns ("writes outbound.db as a container would").
 * 2. Reply seqs are odd, above the maximum over both tables (`nextOddAbove`).
 * 3. A reply goes to its message's address (thread of the newest row from there), or to
 *    `session_routing` when the message has none.
 */
import Database from 'better-sqlite3';
import { closeSync, openSync, utimesSync } from 'node:fs';
import type { Address } from './fake-agent.js';

type Db = Database.Database;

const BUSY_TIMEOUT_MS = 2000;

/** A `messages_in` row as the container reads it; `due` is computed by SQLite. */
export interface InboundRow {
  id: string;
  seq: number;
  kind: string;
  status: string;
  trigger: number;
  on_wake: number;
  platform_id: string | null;
  channel_type: string | null;
  thread_id: string | null;
  content: string;
  due: number;
}

export interface OutboundInsert extends Address {
  id: string;
  inReplyTo: string | null;
  kind: string;
  content: string;
  deliverAfter: string | null;
}

export function withReadOnly<T>(path: string, fn: (db: Db) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return fn(db);
  } finally {
    db.close();
  }
}

export function withOutbound<T>(path: string, fn: (db: Db) => T): T {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = DELETE');
    return db.transaction(fn).immediate(db);
  } finally {
    db.close();
  }
}

/** Pending rows of `messages_in` in seq order, `due` at `nowIso`. */
export function findPendingRows(db: Db, nowIso: string): InboundRow[] {
  return db
    .prepare(
      `SELECT id, seq, kind, status, trigger, on_wake, platform_id, channel_type, thread_id, content,
         CASE WHEN process_after IS NULL OR datetime(process_after) <= datetime(?) THEN 1 ELSE 0 END AS due
       FROM messages_in WHERE status = 'pending' ORDER BY seq`,
    )
    .all(nowIso) as InboundRow[];
}

export function findAckedIds(db: Db): Set<string> {
  const rows = db.prepare('SELECT message_id FROM processing_ack').all() as { message_id: string }[];
  return new Set(rows.map((r) => r.message_id));
}

/**
 * The rows to claim: pending, due, not acked, `on_wake` only on the first poll; `trigger=0` rows
 * only together with a `trigger=1` row.
 */
export function pickDueBatch(
  rows: readonly InboundRow[],
  acked: ReadonlySet<string>,
  firstPoll: boolean,
): InboundRow[] {
  const eligible = rows.filter((r) => r.due === 1 && !acked.has(r.id) && (r.on_wake === 0 || firstPoll));
  return eligible.some((r) => r.trigger === 1) ? eligible : [];
}

export function setAck(db: Db, messageId: string, status: 'processing' | 'completed' | 'failed', atIso: string): void {
  db.prepare(
    `INSERT INTO processing_ack (message_id, status, status_changed) VALUES (?, ?, ?)
     ON CONFLICT(message_id) DO UPDATE SET status = excluded.status, status_changed = excluded.status_changed`,
  ).run(messageId, status, atIso);
}

export function maxSeq(db: Db, table: 'messages_in' | 'messages_out'): number {
  return (db.prepare(`SELECT COALESCE(MAX(seq), 0) AS m FROM ${table}`).get() as { m: number }).m;
}

/** Smallest odd number above `max`. */
export function nextOddAbove(max: number): number {
  return max % 2 === 0 ? max + 1 : max + 2;
}

export function findRouting(db: Db): Address | undefined {
  return db.prepare('SELECT channel_type, platform_id, thread_id FROM session_routing WHERE id = 1').get() as
    Address | undefined;
}

/** Where the reply to `row` goes (docs/agent.md "Addressing"). */
export function replyAddress(db: Db, row: Address, routing: Address | undefined): Address {
  const { channel_type, platform_id } = row;
  if (channel_type === null || platform_id === null)
    return routing ?? { channel_type: null, platform_id: null, thread_id: null };
  const newest = db
    .prepare('SELECT thread_id FROM messages_in WHERE channel_type = ? AND platform_id = ? ORDER BY seq DESC LIMIT 1')
    .get(channel_type, platform_id) as { thread_id: string | null } | undefined;
  return { channel_type, platform_id, thread_id: newest === undefined ? row.thread_id : newest.thread_id };
}

export function hasOutboundId(db: Db, id: string): boolean {
  return db.prepare('SELECT 1 FROM messages_out WHERE id = ?').get(id) !== undefined;
}

export function insertOutbound(db: Db, row: OutboundInsert, seq: number, timestamp: string): void {
  db.prepare(
    `INSERT INTO messages_out (id, seq, in_reply_to, timestamp, deliver_after, recurrence, kind,
       platform_id, channel_type, thread_id, content)
     VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)`,
  ).run(
    row.id,
    seq,
    row.inReplyTo,
    timestamp,
    row.deliverAfter,
    row.kind,
    row.platform_id,
    row.channel_type,
    row.thread_id,
    row.content,
  );
}

/**
 * Sets the one `container_state` row (docs/agent.md "Long tools"): the tool in flight and its
 * declared timeout, started at `nowIso`; both `null` clear it (`tool_started_at` NULL too).
 */
export function writeContainerState(db: Db, tool: string | null, timeoutMs: number | null, nowIso: string): void {
  const startedAt = tool === null && timeoutMs === null ? null : nowIso;
  db.prepare(
    `INSERT INTO container_state (id, current_tool, tool_declared_timeout_ms, tool_started_at, updated_at)
     VALUES (1, ?, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET current_tool = excluded.current_tool,
       tool_declared_timeout_ms = excluded.tool_declared_timeout_ms,
       tool_started_at = excluded.tool_started_at, updated_at = excluded.updated_at`,
  ).run(tool, timeoutMs, startedAt, nowIso);
}

/** Creates `.heartbeat` if needed and sets its modification time to `atMs` (the injected clock). */
export function touchHeartbeat(path: string, atMs: number): void {
  closeSync(openSync(path, 'a'));
  const at = new Date(atMs);
  utimesSync(path, at, at);
}
