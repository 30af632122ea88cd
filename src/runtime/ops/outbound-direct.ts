/**
 * `writeOutboundDirect`: a host-originated outbound message, delivered like an agent's.
 *
 * Invariant (guarded by test/runtime/container.test.ts): `outbound.db` belongs to the container
 * while one may run, so there the message is kept in the central DB until delivered; with the
 * container stopped it becomes a `messages_out` row with the next odd seq over both tables (the
 * agent sees it on its next start), stamped in `datetime('now')` form as NanoClaw writes it, and
 * its id is recorded in `host_outbound_origin` so the poll delivers it as the host's own
 * (test/runtime/destinations.test.ts, "host-originated messages").
 */
import type { CommitInput } from '../../../machines/session.machine.js';
import type { Db } from '../../store/session-db.js';
import { withOutboundWhileStopped } from '../../store/session-db.js';
import { markHostRow } from '../../store/host-tables.js';
import { nextOutboundSeq } from '../../store/seq.js';
import { sqliteDatetime } from '../sqlite-time.js';
import type { BatchEnv, SessionOp } from './types.js';

export function writeOutboundDirect(
  db: Db,
  op: Extract<SessionOp, { kind: 'writeOutboundDirect' }>,
  env: BatchEnv,
  input: CommitInput,
): { stored: 'central' | 'outbound' } {
  const { message } = op;
  if (input.containerStatus !== 'stopped') {
    env.queueDirectOutbound(message, op.timestamp);
    return { stored: 'central' };
  }
  const guard = { onViolation: env.onViolation };
  withOutboundWhileStopped(
    env.outboundDbPath,
    input.containerStatus,
    (out) => {
      if (out.prepare('SELECT 1 FROM messages_out WHERE id = ?').get(message.id) !== undefined) return;
      // Marked in this batch's inbound.db transaction: the poll reads the row as the host's own
      // (any address), not as the container's (its destinations only).
      markHostRow(db, message.id, {
        channel_type: message.channelType,
        platform_id: message.platformId,
        thread_id: message.threadId,
      });
      out
        .prepare(
          `INSERT INTO messages_out (id, seq, in_reply_to, timestamp, deliver_after, recurrence, kind, platform_id, channel_type, thread_id, content)
         VALUES (?, ?, NULL, ?, NULL, NULL, ?, ?, ?, ?, ?)`,
        )
        .run(
          message.id,
          nextOutboundSeq(db, out),
          sqliteDatetime(Date.parse(op.timestamp)),
          message.kind,
          message.platformId,
          message.channelType,
          message.threadId,
          message.content,
        );
    },
    guard,
  );
  return { stored: 'outbound' };
}
