/**
 * Times the host writes for containers and NanoClaw's host to compare as text (issue 10 item 9):
 * `delivered.delivered_at` and a host-originated `messages_out.timestamp` are in SQLite's
 * `datetime('now')` form, `YYYY-MM-DD HH:MM:SS` in UTC.
 *
 * Before this, both were ISO-8601 (`2026-01-01T00:00:01.234Z`), which compares as text after
 * every `datetime()` value of the same day ('T' sorts after ' ').
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { sequentialIds } from '../../src/runtime/clock.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { insertOutbound, withOutbound } from '../../src/testing/container-files.js';
import { recordingChannels, TestClock } from '../../src/testing/index.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { T0 } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';
import { oneSession } from '../helpers/one-session.js';

const tmp = useTmpDir();

const SQLITE_DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

async function setup() {
  const clock = new TestClock(T0 + 1234);
  const driver = fakeDriver();
  const rt = await createRuntime({
    dataDir: tmp(),
    clock,
    driver,
    channels: recordingChannels().adapters,
    ids: sequentialIds(),
    pollMs: 1000,
  });
  const session = await oneSession(rt, { channelType: 'slack', platformId: 'C1' });
  const read = <T>(file: 'inbound.db' | 'outbound.db', sql: string): T[] => {
    const db = new Database(`${rt.paths.sessionDir('ag', session.id)}/${file}`, { readonly: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  };
  return { rt, clock, sessionId: session.id, read };
}

describe("times in datetime('now') form", () => {
  it('delivered.delivered_at of delivered, refused and system rows', async () => {
    const { rt, clock, sessionId, read } = await setup();
    try {
      await rt.wake(sessionId);
      withOutbound(rt.paths.outboundDbPath('ag', sessionId), (db) => {
        const row = (id: string, kind: string, platformId: string, seq: number) =>
          insertOutbound(
            db,
            {
              id,
              inReplyTo: null,
              kind,
              content: '{"text":"x"}',
              deliverAfter: null,
              channel_type: 'slack',
              platform_id: platformId,
              thread_id: null,
            },
            seq,
            '2026-01-01 00:00:01',
          );
        row('ok', 'chat', 'C1', 1);
        row('nowhere', 'chat', 'C404', 3);
        row('ask', 'system', 'C1', 5);
      });
      clock.set(T0 + 2_500);
      await rt.whenIdle();
      const records = read<{ message_out_id: string; status: string; delivered_at: string }>(
        'inbound.db',
        'SELECT message_out_id, status, delivered_at FROM delivered ORDER BY message_out_id',
      );
      expect(records).toEqual([
        { message_out_id: 'ask', status: 'delivered', delivered_at: '2026-01-01 00:00:02' },
        { message_out_id: 'nowhere', status: 'failed', delivered_at: '2026-01-01 00:00:02' },
        { message_out_id: 'ok', status: 'delivered', delivered_at: '2026-01-01 00:00:02' },
      ]);
    } finally {
      await rt.close();
    }
  });

  it('a host-originated messages_out row, and its delivery record', async () => {
    const { rt, sessionId, read } = await setup();
    try {
      await rt.writeOutboundDirect(sessionId, {
        id: 'notice',
        kind: 'chat',
        channelType: 'slack',
        platformId: 'C1',
        threadId: null,
        content: '{"text":"maintenance tonight"}',
      });
      await rt.whenIdle();
      expect(read('outbound.db', 'SELECT id, seq, timestamp FROM messages_out')).toEqual([
        { id: 'notice', seq: 1, timestamp: '2026-01-01 00:00:01' },
      ]);
      const [record] = read<{ delivered_at: string }>('inbound.db', 'SELECT delivered_at FROM delivered');
      expect(record!.delivered_at).toMatch(SQLITE_DATETIME);
      // As a container compares them: as text, against datetime() values.
      expect(
        read('inbound.db', "SELECT COUNT(*) AS n FROM delivered WHERE delivered_at > datetime('2026-01-01 00:00:01')"),
      ).toEqual([{ n: 0 }]);
    } finally {
      await rt.close();
    }
  });

  it('a host-originated row queued while the container runs is recorded in the same form', async () => {
    const { rt, clock, sessionId, read } = await setup();
    try {
      await rt.wake(sessionId);
      await rt.writeOutboundDirect(sessionId, {
        id: 'while-running',
        kind: 'chat',
        channelType: 'slack',
        platformId: 'C1',
        threadId: null,
        content: '{}',
      });
      clock.set(T0 + 61_000);
      await rt.whenIdle();
      expect(read('inbound.db', 'SELECT message_out_id, delivered_at FROM delivered')).toEqual([
        { message_out_id: 'while-running', delivered_at: '2026-01-01 00:01:01' },
      ]);
    } finally {
      await rt.close();
    }
  });
});
