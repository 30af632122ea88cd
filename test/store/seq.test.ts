import Database from 'better-sqlite3';
import fc from 'fast-check';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { insertMessageIn } from '../../src/store/inbound.js';
import { nextEvenAbove, nextInboundSeq, nextOddAbove, nextOutboundSeq } from '../../src/store/seq.js';
import {
  createSessionDbs,
  readInbound,
  withInbound,
  withOutboundWhileStopped,
  type Db,
} from '../../src/store/session-db.js';
import { makeTempDir, peek } from './helpers.js';

const NOW = '2024-05-01T12:00:00.000Z';

interface SessionFiles {
  inboundPath: string;
  outboundPath: string;
}

function newSession(dir: string): SessionFiles {
  const files = { inboundPath: join(dir, 'inbound.db'), outboundPath: join(dir, 'outbound.db') };
  createSessionDbs(files.inboundPath, files.outboundPath);
  return files;
}

/** The host writing a message into `inbound.db`, as the runtime does. */
function hostInbound(s: SessionFiles, id: string): number {
  return withInbound(s.inboundPath, (db) =>
    insertMessageIn(db, { id, kind: 'chat', timestamp: NOW, content: '{"text":"hi"}' }),
  );
}

function insertOut(db: Db, id: string, seq: number): void {
  db.prepare("INSERT INTO messages_out (id, seq, timestamp, kind, content) VALUES (?, ?, ?, 'chat', '{}')").run(
    id,
    seq,
    NOW,
  );
}

/** The host putting a message of its own into `messages_out` (only allowed while stopped). */
function hostOutbound(s: SessionFiles, id: string): number {
  return withOutboundWhileStopped(s.outboundPath, 'stopped', (outbound) =>
    readInbound(s.inboundPath, (inbound) => {
      const seq = nextOutboundSeq(inbound, outbound);
      insertOut(outbound, id, seq);
      return seq;
    }),
  );
}

/**
 * The container's rule, written independently of src/store/seq.ts: its own connections, the
 * smallest odd number above the maximum over both tables.
 */
function containerOutbound(s: SessionFiles, id: string): number {
  const inbound = new Database(s.inboundPath, { readonly: true });
  const outbound = new Database(s.outboundPath);
  try {
    const maxIn = (inbound.prepare('SELECT MAX(seq) AS m FROM messages_in').get() as { m: number | null }).m ?? 0;
    const maxOut = (outbound.prepare('SELECT MAX(seq) AS m FROM messages_out').get() as { m: number | null }).m ?? 0;
    let seq = Math.max(maxIn, maxOut) + 1;
    if (seq % 2 === 0) seq += 1;
    insertOut(outbound, id, seq);
    return seq;
  } finally {
    inbound.close();
    outbound.close();
  }
}

/** Raw seq values of both tables, in insertion (rowid) order. */
function seqsInOrder(s: SessionFiles): { inbound: number[]; outbound: number[] } {
  const read = (path: string, table: string) =>
    peek(path, (db) => db.prepare(`SELECT seq FROM ${table} ORDER BY rowid`).all() as { seq: number }[]).map(
      (r) => r.seq,
    );
  return { inbound: read(s.inboundPath, 'messages_in'), outbound: read(s.outboundPath, 'messages_out') };
}

function setMaxima(s: SessionFiles, maxIn: number, maxOut: number): void {
  withInbound(s.inboundPath, (db) =>
    db
      .prepare("INSERT INTO messages_in (id, seq, kind, timestamp, content) VALUES ('seed-in', ?, 'chat', ?, '{}')")
      .run(maxIn, NOW),
  );
  withOutboundWhileStopped(s.outboundPath, 'stopped', (db) => insertOut(db, 'seed-out', maxOut));
}

let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('store-seq'));
});

afterEach(() => {
  cleanup();
});

describe('parity helpers', () => {
  it.each([
    // max, next even above, next odd above
    [0, 2, 1],
    [1, 2, 3],
    [2, 4, 3],
    [3, 4, 5],
    [7, 8, 9],
    [8, 10, 9],
    [99, 100, 101],
    [100, 102, 101],
  ])('above %i the next even is %i and the next odd is %i', (max, even, odd) => {
    expect(nextEvenAbove(max)).toBe(even);
    expect(nextOddAbove(max)).toBe(odd);
  });
});

describe('inbound seqs', () => {
  it('numbers inbound messages 2, 4, 6, … starting at 2', () => {
    const s = newSession(dir);
    const seqs = ['m-1', 'm-2', 'm-3', 'm-4'].map((id) => hostInbound(s, id));
    expect(seqs).toEqual([2, 4, 6, 8]);
    expect(seqsInOrder(s).inbound).toEqual([2, 4, 6, 8]);
  });

  it('continues several messages of one batch from the batch’s own rows', () => {
    const s = newSession(dir);
    hostInbound(s, 'm-1');
    const seqs = withInbound(s.inboundPath, (db) =>
      ['m-2', 'm-3'].map((id) => insertMessageIn(db, { id, kind: 'chat', timestamp: NOW, content: '{}' })),
    );
    expect(seqs).toEqual([4, 6]);
  });

  it('takes the next even number above messages_in only, whatever messages_out holds', () => {
    const s = newSession(dir);
    setMaxima(s, 4, 11);
    expect(readInbound(s.inboundPath, (db) => nextInboundSeq(db))).toBe(6);
    expect(hostInbound(s, 'm-1')).toBe(6);
  });

  it('steps over an odd maximum left in messages_in to the next even number', () => {
    const s = newSession(dir);
    setMaxima(s, 5, 1);
    expect(hostInbound(s, 'm-1')).toBe(6);
  });
});

describe('host-originated outbound seqs', () => {
  it.each([
    // max in messages_in, max in messages_out, expected seq
    [8, 3, 9],
    [4, 7, 9],
    [2, 1, 3],
    [10, 11, 13],
    [6, 5, 7],
  ])('takes the next odd number over both tables (in max %i, out max %i → %i)', (maxIn, maxOut, expected) => {
    const s = newSession(dir);
    setMaxima(s, maxIn, maxOut);
    expect(hostOutbound(s, 'o-host')).toBe(expected);
    expect(seqsInOrder(s).outbound).toEqual([maxOut, expected]);
  });

  it('starts at 1 when both tables are empty', () => {
    const s = newSession(dir);
    expect(hostOutbound(s, 'o-host')).toBe(1);
  });

  it('agrees with the container rule on the same files', () => {
    const s = newSession(dir);
    setMaxima(s, 8, 3);
    const host = readInbound(s.inboundPath, (inbound) =>
      withOutboundWhileStopped(s.outboundPath, 'stopped', (outbound) => nextOutboundSeq(inbound, outbound)),
    );
    expect(containerOutbound(s, 'o-container')).toBe(host);
  });
});

describe('seqs across both tables (property)', () => {
  type Writer = 'host-in' | 'container-out' | 'host-out';
  const writer = fc.constantFrom<Writer>('host-in', 'container-out', 'host-out');

  it('keeps every seq unique across both tables, even inbound, odd outbound, each table increasing', () => {
    fc.assert(
      fc.property(fc.array(writer, { maxLength: 24 }), (writers) => {
        const { dir: runDir, cleanup: done } = makeTempDir('store-seq-prop');
        try {
          const s = newSession(runDir);
          let maxIn = 0;
          let maxOut = 0;
          const returned: { inbound: number[]; outbound: number[] } = { inbound: [], outbound: [] };

          writers.forEach((w, i) => {
            const id = `${w}-${i}`;
            if (w === 'host-in') {
              const seq = hostInbound(s, id);
              // The smallest even number above the inbound maximum, nothing else.
              expect(seq % 2).toBe(0);
              expect(seq).toBe(maxIn + (maxIn % 2 === 0 ? 2 : 1));
              maxIn = seq;
              returned.inbound.push(seq);
            } else {
              const seq = w === 'host-out' ? hostOutbound(s, id) : containerOutbound(s, id);
              const over = Math.max(maxIn, maxOut);
              expect(seq % 2).toBe(1);
              expect(seq).toBe(over + (over % 2 === 0 ? 1 : 2));
              maxOut = seq;
              returned.outbound.push(seq);
            }
          });

          const stored = seqsInOrder(s);
          expect(stored).toEqual(returned);
          const all = [...stored.inbound, ...stored.outbound];
          expect(new Set(all).size).toBe(all.length);
          expect(stored.inbound.every((n) => n % 2 === 0)).toBe(true);
          expect(stored.outbound.every((n) => n % 2 === 1)).toBe(true);
          for (const list of [stored.inbound, stored.outbound]) {
            for (let k = 1; k < list.length; k++) expect(list[k]!).toBeGreaterThan(list[k - 1]!);
          }
        } finally {
          done();
        }
      }),
      { numRuns: 60 },
    );
  });
});
