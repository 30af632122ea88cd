/**
 * The `messages_in` row every hand-written baseline inserts: the columns and values the runtime
 * writes for the same message (FORMAT.md "inbound.db"), so that baselines and the runtime store
 * the same bytes.
 *
 * Invariants:
 * 1. Every column of FORMAT.md's `messages_in` is written: `status` 'pending', `tries` 0,
 *    `series_id` = id, `trigger` default 1 (the ingest bench's checks read them back).
 * 2. Seqs are the caller's: even, above the file's maximum (FORMAT.md "Sequence numbers").
 * 3. Writing an id already present is a no-op (`changes` 0), as the runtime's idempotent write.
 */
import type { InboundMessage } from '../src/index.js';

export const INSERT_MESSAGE_IN = `INSERT INTO messages_in (id, seq, kind, timestamp, status, process_after, recurrence,
    series_id, tries, trigger, platform_id, channel_type, thread_id, content, source_session_id, on_wake)
  VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT(id) DO NOTHING`;

/** The positional parameters of `INSERT_MESSAGE_IN` for `m` at `seq`. */
export function messageInParams(m: InboundMessage, seq: number): unknown[] {
  return [
    m.id,
    seq,
    m.kind,
    m.timestamp,
    m.processAfter ?? null,
    m.recurrence ?? null,
    m.id,
    m.trigger ?? 1,
    m.platformId ?? null,
    m.channelType ?? null,
    m.threadId ?? null,
    m.content,
    m.sourceSessionId ?? null,
    m.onWake ?? 0,
  ];
}

/** `SELECT COALESCE(MAX(seq), 0)` then the next even number above it. */
export const MAX_SEQ_IN = 'SELECT COALESCE(MAX(seq), 0) AS m FROM messages_in';

export function nextEven(max: number): number {
  return max % 2 === 0 ? max + 2 : max + 1;
}
