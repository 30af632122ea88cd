import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestDataDir } from '../../src/index.js';
import { createTestRuntime, TEST_START, turn } from '../../src/testing/index.js';

/** One scripted conversation; returns what a test would look at. */
async function conversation() {
  const t = await createTestRuntime({ agent: (m) => turn.reply({ text: m.text.toUpperCase() }) });
  try {
    await t.runtime.upsertAgentGroup({ id: 'ag', name: 'Agent' });
    await t.runtime.upsertMessagingGroup({ id: 'mg', channelType: 'telegram', platformId: 'chat-1' });
    const { session } = await t.runtime.resolveSession({
      agentGroupId: 'ag',
      messagingGroupId: 'mg',
      threadId: 'topic',
      mode: 'per-thread',
    });
    const address = { channelType: 'telegram', platformId: 'chat-1', threadId: 'topic' };
    for (const [i, text] of ['one', 'two', 'three'].entries()) {
      const delivered = t.next('outbound.delivered');
      await t.runtime.writeMessage(session.id, t.chat(`m${i}`, text, address));
      await t.clock.advance(1_000);
      await delivered;
    }
    return {
      sessionId: session.id,
      delivered: t.channels.delivered.map((d) => ({ id: d.messageId, content: d.content, thread: d.threadId })),
      lastActive: t.runtime.getSession(session.id)?.lastActive,
      now: t.clock.now(),
      errors: t.errors,
      dataDir: t.dataDir,
      close: () => t.close(),
      digest: () => digestDataDir(t.dataDir),
    };
  } catch (error) {
    await t.close();
    throw error;
  }
}

describe('createTestRuntime', () => {
  it('the same script gives the same deliveries, times, ids and data directory', async () => {
    const a = await conversation();
    const b = await conversation();
    try {
      expect(a.delivered).toEqual([
        { id: 'm0-r1', content: { text: 'ONE' }, thread: 'topic' },
        { id: 'm1-r1', content: { text: 'TWO' }, thread: 'topic' },
        { id: 'm2-r1', content: { text: 'THREE' }, thread: 'topic' },
      ]);
      expect(a.sessionId).toBe('sess-1');
      expect(a.now).toBe(TEST_START + 3_000);
      expect(a.errors).toEqual([]);
      expect(b.dataDir).not.toBe(a.dataDir);
      expect({ ...b, close: null, digest: null, dataDir: null }).toEqual({
        ...a,
        close: null,
        digest: null,
        dataDir: null,
      });
      expect(b.digest()).toBe(a.digest());
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('close removes the temporary data directory and may be called twice', async () => {
    const t = await createTestRuntime();
    expect(existsSync(join(t.dataDir, 'v2.db'))).toBe(true);
    await t.runtime.close();
    await t.close();
    await t.close();
    expect(existsSync(t.dataDir)).toBe(false);
  });

  it('leaves a data directory it was given in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sa-given-'));
    try {
      const t = await createTestRuntime({ dataDir: dir, start: new Date('2030-05-06T07:08:09Z') });
      expect(t.clock.now()).toBe(Date.UTC(2030, 4, 6, 7, 8, 9));
      expect(t.chat('m1', 'hi')).toEqual({
        id: 'm1',
        kind: 'chat',
        timestamp: '2030-05-06T07:08:09.000Z',
        content: '{"text":"hi"}',
      });
      await t.close();
      expect(existsSync(join(dir, 'v2.db'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('next() resolves with the first matching event only', async () => {
    const t = await createTestRuntime({ driver: 'none' });
    try {
      await t.runtime.upsertAgentGroup({ id: 'ag', name: 'Agent' });
      const second = t.next('session.created', (e) => e.session.threadId === 'b');
      const first = t.next('session.created');
      await t.runtime.resolveSession({ agentGroupId: 'ag', messagingGroupId: null, threadId: 'a', mode: 'per-thread' });
      await t.runtime.resolveSession({ agentGroupId: 'ag', messagingGroupId: null, threadId: 'b', mode: 'per-thread' });
      expect((await first).session.threadId).toBe('a');
      expect((await second).session.threadId).toBe('b');
    } finally {
      await t.close();
    }
  });
});
