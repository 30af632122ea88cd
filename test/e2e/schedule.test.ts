/**
 * A scheduled message answered end to end with no further call (issue 10 item 4): the bundled
 * reference agent runs as a real child process, the runtime runs on the system clock, and a
 * message written with `process_after` two seconds ahead wakes its session when it falls due.
 *
 * Before this, the write woke the container at once; it found nothing due, went idle and nothing
 * woke it again, so the message was never answered.
 */
import { describe, expect, it } from 'vitest';
import { processDriver } from '../../src/container/process-driver.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import type { ChannelAdapter, OutboundDelivery } from '../../src/runtime/types.js';
import { useTmpDir } from '../helpers/tmp.js';
import { oneSession } from '../helpers/one-session.js';

const tmp = useTmpDir();

describe('a scheduled message, end to end', () => {
  it('written 2 s ahead: no container until it is due, then answered without any further call', async () => {
    const delivered: { at: number; msg: OutboundDelivery }[] = [];
    let answered!: () => void;
    const done = new Promise<void>((resolve) => (answered = resolve));
    const slack: ChannelAdapter = {
      async deliver(msg) {
        delivered.push({ at: Date.now(), msg });
        answered();
        return { platformMessageId: 'p-1' };
      },
    };
    const rt = await createRuntime({
      dataDir: tmp(),
      driver: processDriver({ env: { AGENT_POLL_MS: '40', AGENT_IDLE_EXIT_MS: '0' } }),
      channels: { slack },
      pollMs: 40,
    });
    try {
      const errors: unknown[] = [];
      rt.on('error', (e) => errors.push(e.error));
      const started: number[] = [];
      rt.on('container.status', (e) => {
        if (e.to === 'running') started.push(Date.now());
      });
      const session = await oneSession(rt, { channelType: 'slack', platformId: 'C1' });

      const due = Date.now() + 2000;
      await rt.writeMessage(session.id, {
        id: 'reminder',
        kind: 'chat',
        timestamp: new Date().toISOString(),
        content: JSON.stringify({ text: 'stand up' }),
        processAfter: new Date(due).toISOString(),
      });
      expect(rt.containerStatus(session.id)).toBe('stopped');
      await done;

      expect(started).toHaveLength(1);
      // The runtime's own timer woke it (a timer may fire a few ms early against Date.now()).
      expect(started[0]!).toBeGreaterThanOrEqual(due - 25);
      expect(delivered.map((d) => [d.msg.messageId, d.msg.content])).toEqual([
        ['reminder-r1', { text: 'echo: stand up' }],
      ]);
      expect(errors).toEqual([]);
    } finally {
      await rt.close();
    }
  });
});
