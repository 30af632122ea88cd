import Database from 'better-sqlite3';
import { unlinkSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChannelAdapter, OutboundDelivery } from '../../src/runtime/types.js';
import { OutboundWatches } from '../../src/runtime/outbound-watch.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { nextEvent } from '../helpers/events.js';
import { testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

/** Plays the container: one reply row in outbound.db, open → write → close. */
function reply(path: string, id: string, seq: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = DELETE');
  db.prepare(
    `INSERT INTO messages_out (id, seq, in_reply_to, timestamp, kind, platform_id, channel_type, thread_id, content)
     VALUES (?, ?, NULL, datetime('now'), 'chat', 'C123', 'slack', NULL, '{"text":"hi"}')`,
  ).run(id, seq);
  db.close();
}

describe('the outbound watch', () => {
  it('delivers what a running container writes at once, with no poll timer due', async () => {
    const delivered: OutboundDelivery[] = [];
    const slack: ChannelAdapter = {
      async deliver(m) {
        delivered.push(m);
        return { platformMessageId: `p-${m.messageId}` };
      },
    };
    // The timed poll is a day away: only the watch can bring the row in.
    const { rt } = await testRuntime(tmp(), { driver: fakeDriver(), pollMs: 86_400_000, channels: { slack } });
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    await rt.wake(session.id);
    await rt.whenIdle();
    const polls = rt.stats().operations;
    const outbound = rt.paths.outboundDbPath('ag-main', session.id);
    const first = nextEvent(rt, 'outbound.delivered', (e) => e.messageId === 'r1');
    reply(outbound, 'r1', 1);
    await first;
    const last = nextEvent(rt, 'outbound.delivered', (e) => e.messageId === 'r5');
    for (let i = 2; i <= 5; i++) reply(outbound, `r${i}`, 2 * i - 1);
    await last;
    expect(delivered.map((d) => d.messageId)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    await rt.whenIdle();
    // Each reply costs its polls and one record; never a poll per file-system event (several per write).
    const operations = rt.stats().operations - polls;
    expect(operations).toBeLessThanOrEqual(5 /* records */ + 2 * 5 /* at most two polls a write */);
    await rt.close();
  });

  it('asks for no poll while the container is mid-transaction (journal present); the journal’s removal asks for one', async () => {
    // Before: the journal's creation and the page writes of the commit each asked for a poll,
    // whose read then waited on the container's lock.
    const dir = tmp();
    const polls: string[] = [];
    let polled!: () => void;
    const nextPoll = () => new Promise<void>((resolve) => (polled = resolve));
    const watches = new OutboundWatches((error) => {
      throw error;
    });
    watches.start('s', dir, async () => {
      polls.push('poll');
      polled();
    });
    // A watcher of the test's own on the same folder: once it has seen the marker, the watch
    // above has been handed every earlier event too (one inotify queue, dispatched in order).
    const seen = watch(dir, { persistent: false });
    const marker = (name: string) =>
      new Promise<void>((resolve) => {
        const on = (_: string, file: string | Buffer | null) => {
          if (file === name) {
            seen.off('change', on);
            resolve();
          }
        };
        seen.on('change', on);
        writeFileSync(join(dir, name), '');
      });
    try {
      writeFileSync(join(dir, 'outbound.db-journal'), 'journal');
      writeFileSync(join(dir, 'outbound.db'), 'pages');
      await marker('marker-1');
      expect(polls).toEqual([]);

      const first = nextPoll();
      unlinkSync(join(dir, 'outbound.db-journal'));
      await first;
      expect(polls).toEqual(['poll']);
    } finally {
      seen.close();
      watches.stopAll();
    }
  });
});
