/**
 * One poll of a session through the commit thread's own code (`runJob`, live reads of the folder):
 * what it reads of `messages_out` and what it leaves for the next poll.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob, type CommitJob } from '../../src/runtime/commit-worker.js';
import { encodeOps } from '../../src/runtime/job-codec.js';
import type { PollResult } from '../../src/runtime/ops/types.js';
import { fromWire } from '../../src/runtime/wire.js';
import { createSessionDbs } from '../../src/store/session-db.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();
const T0 = Date.UTC(2026, 0, 1);

function session() {
  const sessionDir = join(tmp(), 'sess');
  mkdirSync(join(sessionDir, 'outbox'), { recursive: true });
  const inbound = join(sessionDir, 'inbound.db');
  const outbound = join(sessionDir, 'outbound.db');
  createSessionDbs(inbound, outbound);
  const poll = (maxPollRows = 100, at = T0): PollResult => {
    const job: CommitJob = {
      id: 1,
      env: {
        sessionDir,
        inboundDbPath: inbound,
        outboundDbPath: outbound,
        heartbeatPath: join(sessionDir, '.heartbeat'),
        maxAttachmentBytes: 1 << 20,
        maxMessageBytes: 1 << 20,
        retry: { maxTries: 3, backoffMs: 10 },
        poll: { maxPollRows, maxOutboundBytes: 1000, timezone: 'UTC' },
        migrate: true,
      },
      sessionId: 's',
      containerStatus: 'running',
      ops: encodeOps([{ kind: 'pollOutbound' }]),
      writesOutbound: [],
      at,
      direct: [],
    };
    const [result] = fromWire(runJob(job).results);
    if (!result?.ok) throw new Error(`poll failed: ${JSON.stringify(result)}`);
    return result.value as PollResult;
  };
  /** Plays the container: rows into messages_out in one transaction. */
  const write = (rows: { id: string; seq: number; deliverAfter?: string | null; content?: string }[]) => {
    const db = new Database(outbound);
    db.transaction(() => {
      const ins = db.prepare(
        `INSERT INTO messages_out (id, seq, timestamp, deliver_after, kind, platform_id, channel_type, content)
         VALUES (?, ?, '2026-01-01 00:00:00', ?, 'chat', 'C1', 'slack', ?)`,
      );
      for (const r of rows) ins.run(r.id, r.seq, r.deliverAfter ?? null, r.content ?? '{"text":"x"}');
    })();
    db.close();
  };
  /** Plays the host's deliveries: `delivered` records for these ids. */
  const settle = (ids: string[]) => {
    const db = new Database(inbound);
    const ins = db.prepare("INSERT INTO delivered VALUES (?, NULL, 'delivered', '2026-01-01 00:00:00')");
    db.transaction(() => ids.forEach((id) => ins.run(id)))();
    db.close();
  };
  return { poll, write, settle };
}

const ids = (p: PollResult) => p.undelivered.map((r) => r.id);

describe('a poll', () => {
  it('reads only what it has not settled: the next poll starts past the settled rows', () => {
    const s = session();
    s.write([1, 2, 3].map((n) => ({ id: `r${n}`, seq: 2 * n - 1 })));
    const first = s.poll();
    expect(ids(first)).toEqual(['r1', 'r2', 'r3']);
    s.settle(['r1', 'r2', 'r3']);
    const second = s.poll();
    expect(ids(second)).toEqual([]);
    expect(second.snapshot.settledThrough).toBe(3);
    const third = s.poll();
    // Nothing new: the scan starts at the watermark and reads no row at all.
    expect(third.snapshot.settledThrough).toBe(3);
    expect(third.open).toBe(false);
  });

  it('reads at most maxPollRows rows and says more are there', () => {
    const s = session();
    s.write(Array.from({ length: 10 }, (_, i) => ({ id: `r${i}`, seq: 2 * i + 1 })));
    const p = s.poll(4);
    expect(ids(p)).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(p.snapshot.more).toBe(true);
    expect(p.open).toBe(true);
  });

  it('never loads the content of a row over maxOutboundBytes: refused, measured by SQLite', () => {
    const s = session();
    s.write([
      { id: 'big', seq: 1, content: JSON.stringify({ text: 'x'.repeat(5000) }) },
      { id: 'ok', seq: 3 },
    ]);
    const p = s.poll();
    expect(ids(p)).toEqual(['ok']);
    expect(p.refused).toEqual([{ messageId: 'big', violation: expect.objectContaining({ kind: 'oversized' }) }]);
    const big = p.snapshot.rows.find((r) => r.id === 'big');
    expect(big?.content).toBeNull();
    expect(big?.bytes).toBe(Buffer.byteLength(JSON.stringify({ text: 'x'.repeat(5000) })));
  });

  it('is not held back by a row due later: it passes it, and reads it again when due', () => {
    const s = session();
    // One reply a month ahead, then more rows than one scan walks (all settled but the last).
    const many = Array.from({ length: 5100 }, (_, i) => ({ id: `r${i}`, seq: 2 * i + 3 }));
    s.write([{ id: 'later', seq: 1, deliverAfter: '2026-02-01 00:00:00' }, ...many]);
    s.settle(many.slice(0, -1).map((r) => r.id));
    // Until it is delivered every poll offers it again; before the fix no poll ever reached it.
    const found = new Set<string>();
    for (let i = 0; i < 3; i++) for (const id of ids(s.poll())) found.add(id);
    expect([...found]).toEqual(['r5099']);
    s.settle(['r5099']);
    expect(s.poll().open).toBe(true); // 'later' is still owed
    const due = s.poll(100, Date.UTC(2026, 1, 1, 0, 0, 1));
    expect(ids(due)).toEqual(['later']);
  });

  it('refuses a row whose deliver_after is no time SQLite reads (it would never fall due)', () => {
    const s = session();
    s.write([
      { id: 'never', seq: 1, deliverAfter: 'next tuesday' },
      { id: 'ok', seq: 3 },
    ]);
    const p = s.poll();
    expect(ids(p)).toEqual(['ok']);
    expect(p.refused).toEqual([{ messageId: 'never', violation: expect.objectContaining({ kind: 'bad-time' }) }]);
  });
});
