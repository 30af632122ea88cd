/**
 * The checks after every ingest run: a failed check throws, so no number is reported for a
 * broken run.
 *
 * Invariants:
 * 1. A session passes only if its `messages_in` holds exactly the expected ids, in the expected
 *    order by seq, each once, with even, strictly increasing seqs; and, when acknowledgements are
 *    given, each stored seq is the one its call was acknowledged with.
 */
import Database from 'better-sqlite3';
import { check } from './util.js';

export interface ExpectedSession {
  inboundPath: string;
  ids: readonly string[];
  /** Seq each id's call was acknowledged with, same order as `ids`. */
  acked?: ArrayLike<number>;
}

export function verifySessions(label: string, sessions: Iterable<ExpectedSession>): number {
  let rowsChecked = 0;
  for (const s of sessions) {
    const db = new Database(s.inboundPath, { readonly: true, fileMustExist: true });
    let rows: { id: string; seq: number }[];
    try {
      rows = db.prepare('SELECT id, seq FROM messages_in ORDER BY seq, id').all() as { id: string; seq: number }[];
    } finally {
      db.close();
    }
    check(rows.length === s.ids.length, `${label}: ${s.inboundPath} has ${rows.length} rows, expected ${s.ids.length}`);
    let previous = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      check(
        row.id === s.ids[i],
        `${label}: ${s.inboundPath} row ${i} is ${row.id}, expected ${s.ids[i]} (lost, duplicated or reordered)`,
      );
      check(
        Number.isInteger(row.seq) && row.seq % 2 === 0,
        `${label}: ${row.id} has odd or non-integer seq ${row.seq}`,
      );
      check(row.seq > previous, `${label}: ${row.id} seq ${row.seq} not above the previous ${previous}`);
      previous = row.seq;
      if (s.acked !== undefined)
        check(s.acked[i] === row.seq, `${label}: ${row.id} acknowledged seq ${s.acked[i]} but stored ${row.seq}`);
    }
    rowsChecked += rows.length;
  }
  return rowsChecked;
}
