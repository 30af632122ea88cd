/**
 * Sequence numbers (FORMAT.md "Sequence numbers"): `messages_in` takes even numbers, `messages_out`
 * odd ones, unique across both tables. Guarded by test/store/seq.test.ts.
 *
 * Invariant (test/store/hostile-container.test.ts, "repairInbound recreates it with the next seq
 * above every seq of outbound.db"): both rules also stay above the floor `repairInbound` persists
 * in a rebuilt `inbound.db`, so seqs never restart after a rebuild. The floor is read once per
 * connection: only a rebuild writes it, through a connection of its own.
 *
 * Invariant (test/runtime/hostile-container.test.ts, "a text seq planted in messages_out ..."):
 * the container's seqs are untrusted; only integers in 1..`MAX_TRUSTED_SEQ` count.
 */
import type { Db } from './session-db.js';
import { readSeqFloor } from './session-schema.js';
import { stmt } from './statements.js';

const floors = new WeakMap<Db, number>();

/** The seq floor of an `inbound.db` connection (0 for a file no repair touched). */
export function seqFloor(inbound: Db): number {
  let floor = floors.get(inbound);
  if (floor === undefined) {
    floor = readSeqFloor(inbound);
    floors.set(inbound, floor);
  }
  return floor;
}

/** Largest container seq taken into account: far above any real session, exact as a JS number. */
export const MAX_TRUSTED_SEQ = 2 ** 52;

function maxSeq(db: Db, table: 'messages_in' | 'messages_out'): number {
  const row = stmt(db, `SELECT COALESCE(MAX(seq), 0) AS m FROM ${table}`).get() as { m: number };
  return row.m;
}

/**
 * The highest seq of the container's `messages_out` that is an integer in 1..`MAX_TRUSTED_SEQ`:
 * a text seq, a real or one beyond 2^53 (which no JS number holds exactly) never reaches the
 * host's arithmetic.
 */
function maxTrustedOutboundSeq(outbound: Db): number {
  const row = stmt(
    outbound,
    `SELECT COALESCE(MAX(seq), 0) AS m FROM messages_out
     WHERE typeof(seq) = 'integer' AND seq BETWEEN 1 AND ${MAX_TRUSTED_SEQ}`,
  ).get() as { m: number };
  return row.m;
}

/** Smallest even number above `max` (2 for an empty table). */
export function nextEvenAbove(max: number): number {
  return max % 2 === 0 ? max + 2 : max + 1;
}

/** Smallest odd number above `max` (1 for empty tables). */
export function nextOddAbove(max: number): number {
  return max % 2 === 0 ? max + 1 : max + 2;
}

/** The next even seq: above every `messages_in` seq and above the repair floor. */
export function nextInboundSeq(inbound: Db): number {
  return nextEvenAbove(Math.max(maxSeq(inbound, 'messages_in'), seqFloor(inbound)));
}

/** The next odd seq over both tables (and the floor), for any row the host itself puts into `messages_out`. */
export function nextOutboundSeq(inbound: Db, outbound: Db): number {
  return nextOddAbove(Math.max(maxSeq(inbound, 'messages_in'), seqFloor(inbound), maxTrustedOutboundSeq(outbound)));
}
