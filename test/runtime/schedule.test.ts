/**
 * Scheduled and recurring messages run on their own (issue 10 item 4): a `trigger=1` message with
 * a future `process_after` wakes its session when it falls due — on the injected clock, with no
 * further call, also after a restart — and a recurring message that completes inserts its next
 * occurrence. The fake container of the test kit plays the container: it claims what is due and
 * answers through `outbound.db`.
 *
 * Before this, a scheduled message woke its session at write time (the container found nothing
 * due, went idle and stopped) and never again; `recurrence` was stored and ignored.
 */
import Database from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sequentialIds } from '../../src/runtime/clock.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { createTestRuntime, TEST_START, TestClock, type TestRuntime } from '../../src/testing/index.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { useTmpDir } from '../helpers/tmp.js';
import { oneSession } from '../helpers/one-session.js';

const tmp = useTmpDir();
const iso = (ms: number) => new Date(ms).toISOString();
const DAY = 86_400_000;
/** The longest delay Node's setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Row {
  id: string;
  status: string;
  process_after: string | null;
  recurrence: string | null;
  series_id: string | null;
  kind: string;
  content: string;
  trigger: number;
}

function inboundRows(t: TestRuntime, sessionId: string): Row[] {
  const db = new Database(t.runtime.paths.inboundDbPath('ag', sessionId), { readonly: true });
  try {
    return db
      .prepare(
        'SELECT id, status, process_after, recurrence, series_id, kind, content, trigger FROM messages_in ORDER BY seq',
      )
      .all() as Row[];
  } finally {
    db.close();
  }
}

/** A test runtime whose containers go away soon after their work, so only timers can wake them. */
async function setup(options: Parameters<typeof createTestRuntime>[0] = {}) {
  const t = await createTestRuntime({ pollMs: 500, agentPollMs: 500, idleStopMs: 1000, ...options });
  const session = await oneSession(t.runtime, { channelType: 'slack', platformId: 'C1' });
  return { t, sessionId: session.id };
}

describe('a scheduled message', () => {
  for (const [form, processAfter] of [
    ['ISO', iso(TEST_START + 2000)],
    ['YYYY-MM-DD HH:MM:SS', '2026-01-01 00:00:02'],
  ] as const) {
    it(`(${form}) does not wake at write time and wakes its session when the clock reaches it`, async () => {
      const { t, sessionId } = await setup();
      try {
        await t.runtime.writeMessage(sessionId, t.chat('later', 'in two seconds', { processAfter }));
        await t.settle();
        // The old code started a container here, which found nothing due.
        expect(t.driver.containers).toHaveLength(0);
        await t.clock.advance(1999);
        expect(t.driver.containers).toHaveLength(0);
        await t.clock.advance(1);
        expect(t.driver.containers).toHaveLength(1);
        expect(t.driver.containers[0]!.claimed).toEqual(['later']);
        await t.clock.advance(500);
        expect(t.channels.delivered.map((d) => [d.messageId, d.content])).toEqual([
          ['later-r1', { text: 'echo: in two seconds' }],
        ]);
        expect(inboundRows(t, sessionId).map((r) => r.status)).toEqual(['completed']);
        expect(t.errors).toEqual([]);
      } finally {
        await t.close();
      }
    });
  }

  it('an earlier message re-arms the wake; the later one wakes the session again when it is due', async () => {
    const { t, sessionId } = await setup();
    try {
      await t.runtime.writeMessage(sessionId, t.chat('five', '5 s', { processAfter: iso(TEST_START + 5000) }));
      await t.runtime.writeMessage(sessionId, t.chat('two', '2 s', { processAfter: iso(TEST_START + 2000) }));
      await t.clock.advance(2000);
      expect(t.driver.containers.map((c) => c.claimed)).toEqual([['two']]);
      // That container went idle and stopped; the five-second message still wakes the session.
      await t.clock.advance(2000);
      expect(t.runtime.containerStatus(sessionId)).toBe('stopped');
      await t.clock.advance(1000);
      expect(t.driver.containers.map((c) => c.claimed)).toEqual([['two'], ['five']]);
      expect(t.errors).toEqual([]);
    } finally {
      await t.close();
    }
  });

  // Known bug, left to src/runtime/validate.ts: `isTime` still accepts whatever Date.parse reads.
  // SQLite's datetime() reads these texts as NULL, so the container never finds the message due
  // and it stays pending forever. Flip to `it` once writeMessage refuses them.
  it('with a process_after SQLite cannot read: refused INVALID_INPUT, never stored to stay pending', async () => {
    const { t, sessionId } = await setup();
    try {
      for (const processAfter of ['2026-01-01T00:00:02+0200', '2026-01-01t00:00:02', ' 2026-01-01T00:00:02Z']) {
        await expect(t.runtime.writeMessage(sessionId, t.chat('odd', 'when?', { processAfter }))).rejects.toMatchObject(
          { code: 'INVALID_INPUT' },
        );
      }
    } finally {
      await t.close();
    }
  });

  it('a trigger=0 message never wakes the session, not even when it falls due', async () => {
    const { t, sessionId } = await setup();
    try {
      await t.runtime.writeMessage(
        sessionId,
        t.chat('context', 'for later', { processAfter: iso(TEST_START + 2000), trigger: 0 }),
      );
      await t.clock.advance(120_000);
      expect(t.driver.containers).toHaveLength(0);
    } finally {
      await t.close();
    }
  });

  it('wakes a session whose actor was passivated meanwhile', async () => {
    const { t, sessionId } = await setup({ passivateMs: 1000 });
    try {
      await t.runtime.writeMessage(
        sessionId,
        t.chat('later', 'in two minutes', { processAfter: iso(TEST_START + 120_000) }),
      );
      await t.clock.advance(60_000);
      expect(t.runtime.stats().liveSessions).toBe(0);
      await t.clock.advance(60_000);
      expect(t.driver.containers.map((c) => c.claimed)).toEqual([['later']]);
    } finally {
      await t.close();
    }
  });

  it("30 days ahead, on a clock with Node's timer limit (a longer delay fires after 1 ms): not woken early", async () => {
    // Node's setTimeout runs a delay over 2^31-1 ms (24.8 days) after 1 ms. Before the fix the
    // session was woken at once, found nothing due, stopped, and was re-armed and woken again.
    class NodeLikeClock extends TestClock {
      override setTimeout(fn: (...args: unknown[]) => void, ms: number): number {
        return super.setTimeout(fn, ms > MAX_TIMER_MS ? 1 : ms);
      }
    }
    const clock = new NodeLikeClock(TEST_START);
    const driver = fakeDriver();
    const rt = await createRuntime({ dataDir: tmp(), clock, driver, ids: sequentialIds(), idleStopMs: 1000 });
    try {
      await rt.upsertAgentGroup({ id: 'ag', name: 'Agent' });
      const { session } = await rt.resolveSession({
        agentGroupId: 'ag',
        messagingGroupId: null,
        threadId: null,
        mode: 'shared',
      });
      const due = TEST_START + 30 * DAY;
      await rt.writeMessage(session.id, {
        id: 'monthly',
        kind: 'chat',
        timestamp: iso(TEST_START),
        content: '{}',
        processAfter: iso(due),
      });
      for (let step = 0; step < 30; step++) {
        clock.set(clock.now() + 1);
        await rt.whenIdle();
        clock.set(TEST_START + step * DAY + DAY - 1);
        await rt.whenIdle();
      }
      expect(clock.now()).toBe(due - 1);
      expect(driver.started).toHaveLength(0);
      clock.set(due);
      await rt.whenIdle();
      expect(driver.started).toHaveLength(1);
    } finally {
      await rt.close();
    }
  });

  it('is re-armed by a new runtime on the same data directory, from the central DB alone', async () => {
    const dataDir = tmp();
    const first = await setup({ dataDir });
    await first.t.runtime.writeMessage(
      first.sessionId,
      first.t.chat('later', 'after the restart', { processAfter: iso(TEST_START + 2000) }),
    );
    await first.t.close();
    expect(first.t.driver.containers).toHaveLength(0);

    // The session's folder is out of reach while the new runtime starts: start-up must find the
    // scheduled wake without opening it (it would fail, or recreate the folder).
    const folder = first.t.runtime.paths.sessionDir('ag', first.sessionId);
    // Outside v2-sessions/: a folder there without a central row would be start-up's to clean up.
    const away = join(dataDir, 'away');
    renameSync(folder, away);
    const t = await createTestRuntime({ dataDir, start: TEST_START + 1000, pollMs: 500, agentPollMs: 500 });
    try {
      await t.settle();
      expect(t.errors).toEqual([]);
      expect(existsSync(folder)).toBe(false);
      renameSync(away, folder);

      await t.clock.advance(999);
      expect(t.driver.containers).toHaveLength(0);
      await t.clock.advance(1);
      expect(t.driver.containers.map((c) => c.claimed)).toEqual([['later']]);
      await t.clock.advance(500);
      expect(t.channels.delivered.map((d) => d.messageId)).toEqual(['later-r1']);
      expect(t.errors).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('its wake is in the central DB by the time writeMessage resolves', async () => {
    // It used to be written on a later event-loop turn: a crash right after the acknowledgement
    // lost the wake, and nothing else would ever find the message.
    const { t, sessionId } = await setup();
    try {
      await t.runtime.writeMessage(sessionId, t.chat('later', 'x', { processAfter: iso(TEST_START + 2000) }));
      const central = new Database(join(t.dataDir, 'v2.db'), { readonly: true });
      try {
        expect(central.prepare('SELECT session_id, next_wake_at FROM session_work').all()).toEqual([
          { session_id: sessionId, next_wake_at: TEST_START + 2000 },
        ]);
      } finally {
        central.close();
      }
    } finally {
      await t.close();
    }
  });

  it('re-sent after a crash lost its wake (a duplicate write), is woken when due', async () => {
    const dataDir = tmp();
    const first = await setup({ dataDir });
    const message = first.t.chat('later', 'x', { processAfter: iso(TEST_START + 2000) });
    await first.t.runtime.writeMessage(first.sessionId, message);
    await first.t.close();
    // The crash: the inbound row committed, the central bookkeeping did not.
    const central = new Database(join(dataDir, 'v2.db'));
    central.prepare('DELETE FROM session_work').run();
    central.close();

    const t = await createTestRuntime({ dataDir, start: TEST_START + 1000, pollMs: 500, agentPollMs: 500 });
    try {
      // The sender never saw an acknowledgement, so it sends again.
      await expect(t.runtime.writeMessage(first.sessionId, message)).resolves.toMatchObject({ duplicate: true });
      await t.clock.advance(1000);
      expect(t.driver.containers.map((c) => c.claimed)).toEqual([['later']]);
    } finally {
      await t.close();
    }
  });

  it('already due when a new runtime starts: woken at start-up', async () => {
    const dataDir = tmp();
    const first = await setup({ dataDir });
    await first.t.runtime.writeMessage(
      first.sessionId,
      first.t.chat('overdue', 'missed while down', { processAfter: iso(TEST_START + 2000) }),
    );
    await first.t.close();
    const t = await createTestRuntime({ dataDir, start: TEST_START + 60_000 });
    try {
      await t.settle();
      expect(t.driver.containers.map((c) => c.claimed)).toEqual([['overdue']]);
    } finally {
      await t.close();
    }
  });
});

describe('a recurring message', () => {
  it('that completes gets its next occurrence: same series, next fire time, recurrence cleared on the completed row', async () => {
    const { t, sessionId } = await setup();
    try {
      await t.runtime.writeMessage(sessionId, t.chat('tick', 'every five minutes', { recurrence: '*/5 * * * *' }));
      await t.settle();
      expect(t.driver.containers.map((c) => c.claimed)).toEqual([['tick']]);
      const [done, next, ...rest] = inboundRows(t, sessionId);
      expect(rest).toEqual([]);
      expect(done).toMatchObject({ id: 'tick', status: 'completed', recurrence: null, series_id: 'tick' });
      expect(next).toMatchObject({
        status: 'pending',
        recurrence: '*/5 * * * *',
        series_id: 'tick',
        kind: 'chat',
        trigger: 1,
        content: done!.content,
      });
      expect(Date.parse(next!.process_after!)).toBe(Date.parse('2026-01-01T00:05:00Z'));

      // The occurrence wakes the (by now stopped) session at its time and recurs again.
      await t.clock.advance(5 * 60_000 - 1);
      expect(t.driver.containers).toHaveLength(1);
      await t.clock.advance(1);
      expect(t.driver.containers.map((c) => c.claimed)).toEqual([['tick'], [next!.id]]);
      await t.settle();
      const rows = inboundRows(t, sessionId);
      expect(rows.map((r) => [r.status, r.recurrence, r.series_id])).toEqual([
        ['completed', null, 'tick'],
        ['completed', null, 'tick'],
        ['pending', '*/5 * * * *', 'tick'],
      ]);
      expect(Date.parse(rows[2]!.process_after!)).toBe(Date.parse('2026-01-01T00:10:00Z'));
      expect(t.channels.delivered).toHaveLength(2);
      expect(t.errors).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('fires in UTC by default', async () => {
    const { t, sessionId } = await setup();
    try {
      await t.runtime.writeMessage(sessionId, t.chat('daily', 'standup', { recurrence: '0 9 * * *' }));
      await t.settle();
      const next = inboundRows(t, sessionId)[1]!;
      expect(Date.parse(next.process_after!)).toBe(Date.parse('2026-01-01T09:00:00Z'));
    } finally {
      await t.close();
    }
  });

  it('fires in the time zone given by the `timezone` option', async () => {
    const { t, sessionId } = await setup({ timezone: 'America/New_York' });
    try {
      await t.runtime.writeMessage(sessionId, t.chat('daily', 'standup', { recurrence: '0 9 * * *' }));
      await t.settle();
      const next = inboundRows(t, sessionId)[1]!;
      // 2026-01-01 00:00 UTC is 19:00 on Dec 31 in New York (EST, UTC-5): the next 09:00 there.
      expect(Date.parse(next.process_after!)).toBe(Date.parse('2026-01-01T14:00:00Z'));
    } finally {
      await t.close();
    }
  });

  // Known bug, left to src/runtime/settings.ts: an unknown `timezone` is accepted, and then every
  // recurring message that completes is taken for "not a cron expression" and its series dropped.
  // Flip to `it` once createRuntime refuses it.
  it('an unknown time zone is refused by createRuntime (INVALID_INPUT)', async () => {
    const dataDir = tmp();
    const made = createRuntime({ dataDir, driver: 'none', timezone: 'Mars/Olympus' });
    const outcome = await made.then(
      async (rt) => {
        await rt.close();
        return 'created';
      },
      (error: unknown) => (error as { code?: string }).code,
    );
    expect(outcome).toBe('INVALID_INPUT');
  });

  it('with an expression that is not cron: refused at write, nothing stored', async () => {
    const { t, sessionId } = await setup();
    try {
      await expect(
        t.runtime.writeMessage(sessionId, t.chat('bad', 'never again', { recurrence: 'every tuesday' })),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(inboundRows(t, sessionId)).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('stored with an expression that is not cron (by another host): completed once, its recurrence cleared, nothing inserted', async () => {
    const dataDir = tmp();
    const first = await setup({ dataDir });
    await first.t.close();
    // Another host (NanoClaw, an older version) left a recurring row the parser cannot read.
    const db = new Database(first.t.runtime.paths.inboundDbPath('ag', first.sessionId));
    db.prepare(
      `INSERT INTO messages_in (id, seq, kind, timestamp, status, recurrence, series_id, trigger, content)
       VALUES ('bad', 2, 'chat', '2026-01-01 00:00:00', 'pending', 'every tuesday', 'bad', 1, '{"text":"x"}')`,
    ).run();
    db.close();
    const t = await createTestRuntime({ dataDir, start: TEST_START + 1000, pollMs: 500, agentPollMs: 500 });
    try {
      await t.runtime.wake(first.sessionId);
      await t.clock.advance(1000);
      expect(inboundRows(t, first.sessionId).map((r) => [r.id, r.status, r.recurrence])).toEqual([
        ['bad', 'completed', null],
      ]);
      expect(t.errors).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
