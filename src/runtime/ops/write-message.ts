/**
 * `writeMessage` inside a batch: attachments to the inbox, then the row with the next even seq.
 *
 * Invariants (guarded by test/runtime/mailbox.test.ts and test/files/inbox.test.ts):
 * 1. Idempotent by message id: an id already stored returns its seq with `duplicate: true` and
 *    writes nothing (no second row, no files).
 * 2. Attachments are written only for a message with no committed row, so an inbox folder left by
 *    a crash before its row committed is stale and replaced, never reused.
 * 3. Files written for the message are handed to `undo`, so a failed operation or commit removes them.
 */
import { extractAttachments } from '../../files/inbox.js';
import { findMessageIn, insertMessageInIfNew } from '../../store/inbound.js';
import type { Db } from '../../store/session-db.js';
import { assertContentSize } from '../content-size.js';
import type { BatchEnv, SessionOp, Undo } from './types.js';

export function writeMessage(
  db: Db,
  op: Extract<SessionOp, { kind: 'writeMessage' }>,
  env: BatchEnv,
  undo: Undo,
): { seq: number; duplicate: boolean } {
  const { message } = op;
  // Content that cannot carry an attachments array is stored as it is (FORMAT.md); only content
  // that may carry files needs the duplicate check before anything is written to the inbox.
  const mayCarryFiles = message.content.includes('"attachments"');
  if (mayCarryFiles) {
    const existing = findMessageIn(db, message.id);
    if (existing !== undefined) return { seq: existing.seq, duplicate: true };
  }
  const extracted = mayCarryFiles
    ? extractAttachments({
        sessionDir: env.sessionDir,
        messageId: message.id,
        content: message.content,
        nowMs: op.at,
        maxAttachmentBytes: env.maxAttachmentBytes,
        warn: env.warn,
        replaceStale: true,
        onViolation: env.onViolation,
      })
    : { content: message.content, files: [] };
  if (extracted.files.length > 0) undo.files.push({ messageId: message.id, filenames: extracted.files });
  assertContentSize(message.id, extracted.content, env.maxMessageBytes);
  const seq = insertMessageInIfNew(db, {
    id: message.id,
    kind: message.kind,
    timestamp: message.timestamp,
    content: extracted.content,
    processAfter: message.processAfter ?? null,
    recurrence: message.recurrence ?? null,
    trigger: message.trigger ?? 1,
    platformId: message.platformId ?? null,
    channelType: message.channelType ?? null,
    threadId: message.threadId ?? null,
    sourceSessionId: message.sourceSessionId ?? null,
    onWake: message.onWake ?? 0,
  });
  if (seq === undefined) return { seq: (findMessageIn(db, message.id) as { seq: number }).seq, duplicate: true };
  return { seq, duplicate: false };
}
