/**
 * `sweep`: after a container is gone, settle what it left (FORMAT.md "Container side"; NanoClaw's
 * host sweep): finished acks into `messages_in`, claimed messages back to `pending` with a backoff
 * or `failed`, orphan claims removed, completed recurring messages recurred.
 *
 * Invariants (guarded by test/runtime/sweep.test.ts):
 * 1. `outbound.db` is written only through `withOutboundWhileStopped`, with the status the
 *    machine handed in as proof.
 * 2. A claimed message is retried after `backoffMs × 2^(tries-1)` with `tries + 1`, or marked
 *    `failed` once `maxTries` is reached.
 * 3. The result says when the session next has due work (`nextDueAtMs`), so the runtime can wake
 *    it then without reading the files again; a message already due and unclaimed counts as due
 *    after the retry backoff (test/runtime/stranded.test.ts).
 * 4. An unusable `outbound.db` (a link, garbage, no tables) is replaced before anything else, so a
 *    session is never wedged by it (ops/prepare-outbound.ts), and the poll watermark is reset in the
 *    same transaction: rows of the fresh file are delivered from its first rowid on
 *    (test/runtime/hostile-container.test.ts, "outbound.db not SQLite at all: ...").
 */
import type { CommitInput, MailboxOp } from '../../../machines/session.machine.js';
import { writeOutboundProgress } from '../../store/host-tables.js';
import type { Db } from '../../store/session-db.js';
import { withOutboundWhileStopped } from '../../store/session-db.js';
import { stmt } from '../../store/statements.js';
import { pendingRows, syncFinishedAcks } from './poll.js';
import { prepareOutbound } from './prepare-outbound.js';
import { recurCompleted } from './recurrence.js';
import { DEFAULT_POLL_LIMITS, type BatchEnv, type SweepResult } from './types.js';

/**
 * Epoch ms at which the session next has `trigger = 1` work to wake for: the earliest
 * `process_after` still ahead of `nowIso`, or `dueNowAtMs` when a pending message is already due
 * (nobody claimed it: the container was on its way out, or died first); null when there is none.
 * A `process_after` SQLite cannot read is never due for a container, so it is not counted.
 */
export function nextDueAt(db: Db, nowIso: string, dueNowAtMs: number): number | null {
  const row = stmt(
    db,
    `SELECT MIN(CASE WHEN process_after IS NULL OR julianday(process_after) <= julianday(@now) THEN @dueNow
                     ELSE (julianday(process_after) - 2440587.5) * 86400000.0 END) AS t
     FROM messages_in WHERE status = 'pending' AND trigger = 1`,
  ).get({ now: nowIso, dueNow: dueNowAtMs }) as { t: number | null };
  return row.t === null ? null : Math.round(row.t);
}

export function sweep(db: Db, op: MailboxOp, env: BatchEnv, input: CommitInput, at: number): SweepResult {
  const timezone = (env.poll ?? DEFAULT_POLL_LIMITS).timezone;
  const nowIso = new Date(at).toISOString();
  // Never wedged by what the container left: an unusable outbound.db is replaced first.
  const replaced = env.outside.outboundCheck({ requestId: op.requestId }, () => prepareOutbound(env, input, at));
  // The fresh file numbers its rows from 1 again: the poll watermark starts over with it.
  if (replaced !== null) writeOutboundProgress(db, 0);
  return withOutboundWhileStopped(
    env.outboundDbPath,
    input.containerStatus,
    (out) => {
      const pendingIds = pendingRows(db, nowIso).map((r) => r.id);
      const acks = env.outside.sweepAcks({ requestId: op.requestId, pendingIds }, out);
      syncFinishedAcks(db, acks, at, timezone, env.warn);
      for (const r of recurCompleted(db, at, timezone)) {
        if (r !== undefined && 'error' in r) env.warn({ messageId: r.messageId, error: r.error }, 'recurrence dropped');
      }
      const result: SweepResult = { retried: [], failed: [], nextDueAtMs: null, acks, replaced };
      const find = stmt(db, "SELECT tries FROM messages_in WHERE id = ? AND status = 'pending'");
      const retry = stmt(db, 'UPDATE messages_in SET tries = ?, process_after = ? WHERE id = ?');
      const fail = stmt(db, "UPDATE messages_in SET tries = ?, status = 'failed' WHERE id = ?");
      const unclaim = stmt(out, "DELETE FROM processing_ack WHERE message_id = ? AND status = 'processing'");
      for (const ack of acks) {
        if (ack.status !== 'processing') continue;
        unclaim.run(ack.message_id);
        const row = find.get(ack.message_id) as { tries: number | null } | undefined;
        if (row === undefined) continue;
        const tries = (row.tries ?? 0) + 1;
        if (tries >= env.retry.maxTries) {
          fail.run(tries, ack.message_id);
          result.failed.push(ack.message_id);
          continue;
        }
        retry.run(tries, new Date(at + env.retry.backoffMs * 2 ** (tries - 1)).toISOString(), ack.message_id);
        result.retried.push(ack.message_id);
      }
      // A due message nobody claimed wakes the session again, after the retry backoff: a container
      // that dies before it claims anything is not restarted in a tight loop.
      result.nextDueAtMs = nextDueAt(db, nowIso, at + env.retry.backoffMs);
      return result;
    },
    { onViolation: env.onViolation },
  );
}
