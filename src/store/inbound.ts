/**
 * SQL over `inbound.db`, each function taking the open `db` first. Callers run these inside
 * `withInbound` (writes) or `readInbound` (reads); nothing here opens or closes a file.
 */
import type { Db } from './session-db.js';
import { stmt } from './statements.js';
import { recordDeliveryError } from './host-tables.js';
import { nextInboundSeq } from './seq.js';

export interface InboundRow {
  id: string;
  seq: number;
  kind: string;
  timestamp: string;
  status: string;
  process_after: string | null;
  recurrence: string | null;
  series_id: string | null;
  tries: number;
  trigger: number;
  platform_id: string | null;
  channel_type: string | null;
  thread_id: string | null;
  content: string;
  source_session_id: string | null;
  on_wake: number;
}

export interface NewInboundRow {
  id: string;
  kind: string;
  timestamp: string;
  content: string;
  processAfter?: string | null;
  recurrence?: string | null;
  seriesId?: string | null;
  trigger?: 0 | 1;
  platformId?: string | null;
  channelType?: string | null;
  threadId?: string | null;
  sourceSessionId?: string | null;
  onWake?: 0 | 1;
}

export function findMessageIn(db: Db, id: string): InboundRow | undefined {
  return stmt(db, 'SELECT * FROM messages_in WHERE id = ?').get(id) as InboundRow | undefined;
}

/** Inserts a new pending row with the next even seq; returns that seq. */
export function insertMessageIn(db: Db, row: NewInboundRow): number {
  const seq = insertMessageInIfNew(db, row);
  if (seq === undefined) throw new Error(`messages_in already holds ${row.id}`);
  return seq;
}

/**
 * The last seq this connection assigned, so a batch of n inserts reads the maximum once, not n
 * times. Forgotten when a savepoint rolls back (`forgetAssignedSeq`): the next insert then reads
 * the maximum again.
 */
const assigned = new WeakMap<Db, number>();

export function forgetAssignedSeq(db: Db): void {
  assigned.delete(db);
}

/** Like `insertMessageIn`, but returns undefined (writing nothing) when the id already exists. */
export function insertMessageInIfNew(db: Db, row: NewInboundRow): number | undefined {
  const last = assigned.get(db);
  const seq = last === undefined ? nextInboundSeq(db) : last + 2;
  const info = stmt(
    db,
    `INSERT INTO messages_in (id, seq, kind, timestamp, status, process_after, recurrence, series_id,
       tries, trigger, platform_id, channel_type, thread_id, content, source_session_id, on_wake)
     VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(id) DO NOTHING`,
  ).run(
    row.id,
    seq,
    row.kind,
    row.timestamp,
    row.processAfter ?? null,
    row.recurrence ?? null,
    row.seriesId ?? row.id,
    row.trigger ?? 1,
    row.platformId ?? null,
    row.channelType ?? null,
    row.threadId ?? null,
    row.content,
    row.sourceSessionId ?? null,
    row.onWake ?? 0,
  );
  if (info.changes !== 1) return undefined;
  assigned.set(db, seq);
  return seq;
}

export function listMessagesIn(db: Db): InboundRow[] {
  return stmt(db, 'SELECT * FROM messages_in ORDER BY seq').all() as InboundRow[];
}

export interface DeliveryRecord {
  messageOutId: string;
  platformMessageId: string | null;
  status: 'delivered' | 'failed';
  /** `YYYY-MM-DD HH:MM:SS` UTC (FORMAT.md: compared as text by containers). */
  deliveredAt: string;
  /** Why a `failed` record failed (kept in the host's own table). */
  error?: string | null;
}

/** Records a delivery outcome once; returns false when the message already had one. */
export function recordDelivery(db: Db, record: DeliveryRecord): boolean {
  const info = stmt(
    db,
    `INSERT INTO delivered (message_out_id, platform_message_id, status, delivered_at)
       VALUES (?, ?, ?, ?) ON CONFLICT(message_out_id) DO NOTHING`,
  ).run(record.messageOutId, record.platformMessageId, record.status, record.deliveredAt);
  if (info.changes === 1 && typeof record.error === 'string')
    recordDeliveryError(db, record.messageOutId, record.error);
  return info.changes === 1;
}

export function deliveredIds(db: Db): Set<string> {
  const rows = stmt(db, 'SELECT message_out_id AS id FROM delivered').all() as { id: string }[];
  return new Set(rows.map((r) => r.id));
}

export interface Routing {
  channelType: string | null;
  platformId: string | null;
  threadId: string | null;
}

export function writeRouting(db: Db, routing: Routing): void {
  stmt(
    db,
    `INSERT INTO session_routing (id, channel_type, platform_id, thread_id) VALUES (1, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET channel_type = excluded.channel_type,
       platform_id = excluded.platform_id, thread_id = excluded.thread_id`,
  ).run(routing.channelType, routing.platformId, routing.threadId);
}

export function readRouting(db: Db): Routing | undefined {
  const row = stmt(db, 'SELECT channel_type, platform_id, thread_id FROM session_routing WHERE id = 1').get() as
    { channel_type: string | null; platform_id: string | null; thread_id: string | null } | undefined;
  return row && { channelType: row.channel_type, platformId: row.platform_id, threadId: row.thread_id };
}

export interface Destination {
  name: string;
  displayName: string | null;
  type: 'channel' | 'agent';
  channelType: string | null;
  platformId: string | null;
  agentGroupId: string | null;
}

/** Replaces the whole destinations table with `list`. */
export function replaceDestinations(db: Db, list: readonly Destination[]): void {
  stmt(db, 'DELETE FROM destinations').run();
  const insert = stmt(
    db,
    `INSERT INTO destinations (name, display_name, type, channel_type, platform_id, agent_group_id)
     VALUES (@name, @displayName, @type, @channelType, @platformId, @agentGroupId)`,
  );
  for (const d of list) insert.run(d);
}
