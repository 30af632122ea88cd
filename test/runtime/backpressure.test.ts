import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

describe('backpressure (maxQueuedPerSession)', () => {
  it('rejects writes past the bound with BUSY, writes nothing for them, and takes writes again once the queue drains', async () => {
    const { rt } = await testRuntime(tmp(), { maxQueuedPerSession: 5 });
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => rt.writeMessage(session.id, chat(`m${i}`, 'x'))),
    );
    const busy = outcomes.filter((o) => o.status === 'rejected');
    expect(outcomes.slice(0, 5).every((o) => o.status === 'fulfilled')).toBe(true);
    expect(busy).toHaveLength(3);
    for (const o of busy) {
      const reason = (o as PromiseRejectedResult).reason as unknown;
      expect(reason).toBeInstanceOf(RuntimeError);
      expect(reason).toMatchObject({ code: 'BUSY' });
    }
    await expect(rt.messageCounts(session.id)).resolves.toMatchObject({ messagesIn: 5 });
    // Drained: the same session takes writes again, seqs continuing.
    await expect(rt.writeMessage(session.id, chat('m5', 'again'))).resolves.toEqual({ seq: 12, duplicate: false });
    // Other sessions are never affected by one session's queue.
    const other = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: null,
      threadId: null,
      mode: 'shared',
    });
    await expect(rt.writeMessage(other.session.id, chat('o1', 'x'))).resolves.toMatchObject({ seq: 2 });
    await rt.close();
  });
});
