/**
 * `pollOutbound`: what a running container produced since the last poll, checked before anything
 * of it is delivered (issue "container output is checked, not trusted").
 *
 * Invariants (guarded by test/runtime/poll.test.ts and test/runtime/hostile-container.test.ts):
 * 1. A poll costs what is new: it reads from the watermark kept in `inbound.db`
 *    (`host_outbound_progress`), at most `maxPollRows` unsettled rows, and only the acks of
 *    inbound rows that are still pending (index on `messages_in.status`).
 * 2. A row with a NULL or even seq, a duplicate or unusable id, an unknown kind or content over
 *    `maxOutboundBytes` is never delivered: it is recorded `failed` in `delivered`, with the
 *    reason, in this very transaction, and reported as a violation. An id met twice in one poll
 *    is refused as a whole: neither row is delivered ("a duplicate id ...").
 * 3. Finished acks are copied into `messages_in.status`; a recurring message that completes gets
 *    its next occurrence in the same transaction (ops/recurrence.ts).
 * 4. A row whose `deliver_after` is ahead never holds the others back: it is remembered
 *    (`host_outbound_deferred`), passed by the watermark, and read again once due; one whose
 *    `deliver_after` is no time SQLite reads is refused (`bad-time`) rather than kept forever.
 */
import type { MailboxOp } from '../../../machines/session.machine.js';
import type { ContainerViolation } from '../../files/container-violation.js';
import { MAX_MESSAGE_ID_LENGTH } from '../../files/message-id.js';
import {
  countDeferred,
  deferRows,
  dueDeferred,
  forgetDeferred,
  isHostRow,
  isSettled,
  readOutboundProgress,
  writeOutboundProgress,
} from '../../store/host-tables.js';
import { recordDelivery } from '../../store/inbound.js';
import type { Db } from '../../store/session-db.js';
import { stmt } from '../../store/statements.js';
import { parseSqliteTime, sqliteDatetime } from '../sqlite-time.js';
import { recur } from './recurrence.js';
import {
  DEFAULT_POLL_LIMITS,
  type Ack,
  type BatchEnv,
  type OutboundRow,
  type PollResult,
  type ScannedRow,
} from './types.js';

/** Kinds a container may write to `messages_out` (FORMAT.md, the kinds of `messages_in`). */
export const OUTBOUND_KINDS: ReadonlySet<string> = new Set(['chat', 'chat-sdk', 'task', 'webhook', 'system']);

interface PendingRow {
  id: string;
  due: number;
}

/** Pending inbound rows, each with whether it is due now (times compared through `datetime()`). */
export function pendingRows(db: Db, nowIso: string): PendingRow[] {
  return stmt(
    db,
    `SELECT id, (process_after IS NULL OR datetime(process_after) <= datetime(?)) AS due
     FROM messages_in WHERE status = 'pending'`,
  ).all(nowIso) as PendingRow[];
}

/**
 * Copies the container's `completed`/`failed` acks into `messages_in.status`; recurring messages
 * that completed get their next occurrence. Returns what recurred.
 */
export function syncFinishedAcks(
  db: Db,
  acks: readonly Ack[],
  at: number,
  timezone: string,
  warn: BatchEnv['warn'],
): PollResult['recurred'] {
  const update = stmt(db, "UPDATE messages_in SET status = ? WHERE id = ? AND status = 'pending'");
  const recurred: PollResult['recurred'] = [];
  for (const ack of acks) {
    if (ack.status !== 'completed' && ack.status !== 'failed') continue;
    if (update.run(ack.status, ack.message_id).changes === 0 || ack.status !== 'completed') continue;
    const r = recur(db, ack.message_id, at, timezone);
    if (r === undefined) continue;
    if ('error' in r) warn({ messageId: r.messageId, error: r.error }, 'recurrence dropped');
    else recurred.push(r);
  }
  return recurred;
}

/** Why a scanned row must not be delivered, or undefined when it may. */
export function rowProblem(
  row: ScannedRow,
  seenIds: ReadonlySet<string>,
  maxOutboundBytes: number,
): ContainerViolation | undefined {
  const id = row.id as unknown;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_MESSAGE_ID_LENGTH || id.includes('\0')) {
    return { kind: 'bad-id', detail: `messages_out row ${row.rowid} has an unusable id` };
  }
  if (seenIds.has(id)) return { kind: 'duplicate-id', detail: `messages_out holds id ${JSON.stringify(id)} twice` };
  const seq = row.seq as unknown;
  if (seq === null || typeof seq !== 'number' || !Number.isSafeInteger(seq)) {
    return { kind: 'bad-seq', detail: `${id}: seq ${String(seq)} is not an integer` };
  }
  if (seq % 2 === 0) return { kind: 'bad-seq', detail: `${id}: seq ${seq} is even (outbound seqs are odd)` };
  if (typeof row.kind !== 'string' || !OUTBOUND_KINDS.has(row.kind)) {
    return { kind: 'bad-kind', detail: `${id}: unknown kind ${JSON.stringify(String(row.kind).slice(0, 40))}` };
  }
  const after = row.deliver_after as unknown;
  if (after !== null && (typeof after !== 'string' || Number.isNaN(parseSqliteTime(after)))) {
    return {
      kind: 'bad-time',
      detail: `${id}: deliver_after ${JSON.stringify(String(after).slice(0, 40))} is no time`,
    };
  }
  if (row.content === null || typeof row.content !== 'string') {
    return {
      kind: 'oversized',
      detail: `${id}: content of ${row.bytes} bytes is over the limit of ${maxOutboundBytes}`,
    };
  }
  return undefined;
}

function toOutboundRow(row: ScannedRow, origin: OutboundRow['origin']): OutboundRow {
  return {
    id: row.id,
    seq: row.seq,
    in_reply_to: row.in_reply_to,
    timestamp: row.timestamp,
    deliver_after: row.deliver_after,
    kind: row.kind,
    platform_id: row.platform_id,
    channel_type: row.channel_type,
    thread_id: row.thread_id,
    content: row.content as string,
    origin,
  };
}

export function pollOutbound(db: Db, op: MailboxOp, env: BatchEnv, at: number, stopped = false): PollResult {
  const limits = env.poll ?? DEFAULT_POLL_LIMITS;
  const nowIso = new Date(at).toISOString();
  const pending = pendingRows(db, nowIso);
  const afterRowid = readOutboundProgress(db);
  const dueRowids = dueDeferred(db, nowIso, limits.maxPollRows);
  const snapshot = env.outside.pollSnapshot({
    requestId: op.requestId,
    nowIso,
    afterRowid,
    limits,
    pendingIds: pending.map((r) => r.id),
    isSettled: (id) => isSettled(db, id),
    stopped,
    dueRowids,
  });
  // Rows put off until now were read again (or are gone, or settled): forgotten; those still
  // ahead (the container moved their time) come back in `deferred` below.
  forgetDeferred(db, dueRowids);
  deferRows(db, snapshot.deferred ?? []);
  const recurred = syncFinishedAcks(db, snapshot.acks, at, limits.timezone, env.warn);
  const ackOf = new Map(snapshot.acks.map((a) => [a.message_id, a.status]));

  const undelivered: OutboundRow[] = [];
  const refused: PollResult['refused'] = [];
  const seen = new Set<string>();
  for (const row of snapshot.rows) {
    const key = String(row.id);
    if (isSettled(db, key)) {
      seen.add(key);
      continue;
    }
    const problem = rowProblem(row, seen, limits.maxOutboundBytes);
    seen.add(key);
    if (problem !== undefined) {
      // One record per id: the earlier row of a duplicate id, accepted above, goes with it.
      if (problem.kind === 'duplicate-id') {
        const earlier = undelivered.findIndex((r) => r.id === key);
        if (earlier !== -1) undelivered.splice(earlier, 1);
      }
      recordDelivery(db, {
        messageOutId: key,
        platformMessageId: null,
        status: 'failed',
        deliveredAt: sqliteDatetime(at),
        error: problem.detail,
      });
      refused.push({ messageId: key, violation: { ...problem, path: env.outboundDbPath } });
      continue;
    }
    undelivered.push(toOutboundRow(row, isHostRow(db, key, row) ? 'host' : 'container'));
  }
  for (const row of env.directOutbound()) if (!isSettled(db, row.id)) undelivered.push(row);
  if (snapshot.settledThrough > afterRowid) writeOutboundProgress(db, snapshot.settledThrough);

  let claimed = 0;
  let due = 0;
  for (const r of pending) {
    const ack = ackOf.get(r.id);
    if (ack === 'processing') claimed++;
    else if (ack === undefined && r.due === 1) due++;
  }
  return {
    undelivered,
    refused,
    claimed,
    due,
    // Rows remembered as due later keep the session open: a sweep delivers them when due.
    open: snapshot.more || undelivered.length > 0 || countDeferred(db) > 0,
    heartbeatMtimeMs: snapshot.heartbeatMtimeMs,
    containerState: snapshot.containerState,
    recurred,
    snapshot,
  };
}
