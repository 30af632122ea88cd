/**
 * Sequence numbers (FORMAT.md "Sequence numbers"): `messages_in` takes even numbers, `messages_out`
 * odd ones, unique across both tables. Guarded by test/store/seq.test.ts.
 */
import type { Db } from './session-db.js';
import { stmt } from './statements.js';

function maxSeq(db: Db, table: 'messages_in' | 'messages_out'): number {
  const row = stmt(db, `SELECT COALESCE(MAX(seq), 0) AS m FROM ${table}`).get() as { m: number };
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

export function nextInboundSeq(inbound: Db): number {
  return nextEvenAbove(maxSeq(inbound, 'messages_in'));
}

/** The next odd seq over both tables, for any row the host itself puts into `messages_out`. */
export function nextOutboundSeq(inbound: Db, outbound: Db): number {
  return nextOddAbove(Math.max(maxSeq(inbound, 'messages_in'), maxSeq(outbound, 'messages_out')));
}
