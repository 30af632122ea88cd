/**
 * Rebuilding a session's `inbound.db` after it went missing or was replaced by something the host
 * refuses, without restarting its seqs.
 *
 * Invariants (guarded by test/store/hostile-container.test.ts, "a missing inbound.db"):
 * 1. `outbound.db` is read first, through the same verified read-only open as every poll; if it is
 *    refused, nothing is changed ("refuses while outbound.db is a link, leaving inbound.db as it was").
 * 2. Only the entry at the `inbound.db` path is removed, never what it links to: a symlink or a
 *    hard link loses that one name, a directory is removed recursively without following links;
 *    the side files the old file left (`-journal`, `-wal`, `-shm`) go with it. A sound regular file
 *    is kept with its rows.
 * 3. The rebuilt file gets the schema and a persisted seq floor (`host_seq_floor`) equal to the
 *    highest seq in `outbound.db` or `messages_in`, so the host's next inbound seq continues above
 *    both ("repairInbound recreates it with the next seq above every seq of outbound.db (42 after 41)"). Container seqs that are not integers in 1..2^52 are ignored.
 */
import { basename } from 'node:path';
import { entryViolation, violationOf, type ContainerViolation } from '../files/container-violation.js';
import { lstatOrUndefined } from '../files/fs-errors.js';
import { removeEntry } from '../files/remove-entry.js';
import { MAX_TRUSTED_SEQ, nextInboundSeq } from './seq.js';
import { createInboundDb, readOutbound, withInbound, type Db } from './session-db.js';
import { raiseSeqFloor, readSeqFloor } from './session-schema.js';
import { SIDE_FILE_SUFFIXES, type GuardOptions } from './verified-open.js';

export interface RepairReport {
  /** What was removed from the `inbound.db` path, or `null` when nothing was (missing or sound). */
  removed: ContainerViolation | null;
  /** Whether `inbound.db` was created afresh. */
  created: boolean;
  /** The floor now persisted: every later inbound seq is above it. */
  seqFloor: number;
  /** The seq the next inbound message will take. */
  nextInboundSeq: number;
}

function maxOutboundSeq(outboundPath: string, guard: GuardOptions): number {
  try {
    return readOutbound(
      outboundPath,
      (out) =>
        (
          out
            .prepare(
              `SELECT COALESCE(MAX(seq), 0) AS m FROM messages_out
               WHERE typeof(seq) = 'integer' AND seq BETWEEN 1 AND ${MAX_TRUSTED_SEQ}`,
            )
            .get() as { m: number }
        ).m,
      guard,
    );
  } catch (error) {
    // A container that removed outbound.db leaves no seqs to continue above.
    if (violationOf(error)?.kind === 'missing') return 0;
    throw error;
  }
}

function maxInboundSeq(db: Db): number {
  return (db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM messages_in').get() as { m: number }).m;
}

/**
 * Makes `inboundPath` a sound `inbound.db` again (see the invariants) and returns what it did.
 * Throws `RuntimeError('STORAGE')` with a violation when `outbound.db` cannot be read or the entry
 * cannot be replaced. Not for a session whose container runs: the caller stops it first.
 *
 * @example repairInbound(paths.inboundDbPath(ag, s), paths.outboundDbPath(ag, s)) // { created: true, nextInboundSeq: 42, … }
 */
export function repairInbound(inboundPath: string, outboundPath: string, options: GuardOptions = {}): RepairReport {
  const outboundMax = maxOutboundSeq(outboundPath, options);
  const stats = lstatOrUndefined(inboundPath);
  const removed =
    stats === undefined ? null : (entryViolation(stats, inboundPath, 'file', basename(inboundPath)) ?? null);
  const created = stats === undefined || removed !== null;
  if (removed !== null) {
    removeEntry(inboundPath);
    options.onViolation?.({ ...removed, detail: `${removed.detail}; removed by repair` });
  }
  // A journal next to a file that is gone belongs to that file: replayed into the new one it would
  // corrupt it.
  if (created) for (const suffix of SIDE_FILE_SUFFIXES) removeEntry(`${inboundPath}${suffix}`);
  if (created) createInboundDb(inboundPath, options);
  return withInbound(
    inboundPath,
    (db) => {
      const floor = Math.max(outboundMax, maxInboundSeq(db), readSeqFloor(db));
      raiseSeqFloor(db, floor);
      return { removed, created, seqFloor: floor, nextInboundSeq: nextInboundSeq(db) };
    },
    options,
  );
}
