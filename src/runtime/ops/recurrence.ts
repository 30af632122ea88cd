/**
 * Recurring messages (FORMAT.md `messages_in.recurrence`, a cron expression), as NanoClaw runs
 * them: when an occurrence completes, the next one is inserted as a new pending row of the same
 * series with `process_after` at the next fire time, and the completed row's recurrence is cleared.
 *
 * Invariants (guarded by test/runtime/schedule.test.ts):
 * 1. The next occurrence is a function of the completed row and the batch's clock reading only
 *    (its id is derived from the series and the fire time), so replay inserts the same row.
 * 2. Cron expressions are read in the runtime's time zone (UTC by default).
 * 3. A row is never recurred twice: the insert and the clearing of the recurrence commit together.
 */
import { CronExpressionParser } from 'cron-parser';
import { createHash } from 'node:crypto';
import { MAX_MESSAGE_ID_LENGTH } from '../../files/message-id.js';
import { insertMessageInIfNew } from '../../store/inbound.js';
import type { Db } from '../../store/session-db.js';
import { stmt } from '../../store/statements.js';
import { sqliteDatetime } from '../sqlite-time.js';

interface RecurringRow {
  id: string;
  kind: string;
  recurrence: string;
  series_id: string | null;
  platform_id: string | null;
  channel_type: string | null;
  thread_id: string | null;
  content: string;
  trigger: number;
}

/** The first fire time of `expression` strictly after `afterMs`, in `timezone`; throws when it is not cron. */
export function nextFireTime(expression: string, afterMs: number, timezone: string): Date {
  return CronExpressionParser.parse(expression, { tz: timezone, currentDate: new Date(afterMs) })
    .next()
    .toDate();
}

function occurrenceId(seriesId: string, fireIso: string): string {
  const id = `${seriesId}@${fireIso}`;
  if (id.length <= MAX_MESSAGE_ID_LENGTH) return id;
  return `series-${createHash('sha256').update(seriesId).digest('hex').slice(0, 32)}@${fireIso}`;
}

export interface Recurred {
  messageId: string;
  nextId: string;
  processAfter: string;
}

/**
 * Inserts the next occurrence of the completed recurring row `id` and clears its recurrence.
 * Returns what it inserted, or an error text when the row's expression is not a cron expression
 * (its recurrence is cleared then too, so it is not retried forever).
 */
export function recur(
  db: Db,
  id: string,
  at: number,
  timezone: string,
): Recurred | { messageId: string; error: string } | undefined {
  const row = stmt(
    db,
    `SELECT id, kind, recurrence, series_id, platform_id, channel_type, thread_id, content, trigger
     FROM messages_in WHERE id = ? AND status = 'completed' AND recurrence IS NOT NULL`,
  ).get(id) as RecurringRow | undefined;
  if (row === undefined) return undefined;
  const clear = stmt(db, 'UPDATE messages_in SET recurrence = NULL WHERE id = ?');
  let fire: Date;
  try {
    fire = nextFireTime(row.recurrence, at, timezone);
  } catch (error) {
    clear.run(id);
    return {
      messageId: id,
      error: `recurrence ${JSON.stringify(row.recurrence)} is not a cron expression: ${String(error)}`,
    };
  }
  const processAfter = fire.toISOString();
  const seriesId = row.series_id ?? row.id;
  const nextId = occurrenceId(seriesId, processAfter);
  insertMessageInIfNew(db, {
    id: nextId,
    kind: row.kind,
    timestamp: sqliteDatetime(at),
    content: row.content,
    processAfter,
    recurrence: row.recurrence,
    seriesId,
    trigger: row.trigger === 0 ? 0 : 1,
    platformId: row.platform_id,
    channelType: row.channel_type,
    threadId: row.thread_id,
  });
  clear.run(id);
  return { messageId: id, nextId, processAfter };
}

/** Completed rows that still carry a recurrence (left by a crash or another host): recur them all. */
export function recurCompleted(db: Db, at: number, timezone: string): ReturnType<typeof recur>[] {
  const ids = stmt(
    db,
    "SELECT id FROM messages_in WHERE status = 'completed' AND recurrence IS NOT NULL ORDER BY seq",
  ).all() as { id: string }[];
  return ids.map((r) => recur(db, r.id, at, timezone));
}
