import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { digestDataDir } from '../../src/index.js';
import { createTestRuntime, TEST_START, turn } from '../../src/testing/index.js';
import { oneSession } from '../helpers/one-session.js';

/** One scripted conversation; returns what a test would look at. */
async function conversation() {
  const t = await createTestRuntime({ agent: (m) => turn.reply({ text: m.text.toUpperCase() }) });
  try {
    const session = await oneSession(t.runtime, {
      channelType: 'telegram',
      platformId: 'chat-1',
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

  it('record() keeps every matching event from then on, in order', async () => {
    const t = await createTestRuntime({ driver: 'none' });
    try {
      await t.runtime.upsertAgentGroup({ id: 'ag', name: 'Agent' });
      const before = await t.runtime.resolveSession({
        agentGroupId: 'ag',
        messagingGroupId: null,
        threadId: 'a',
        mode: 'per-thread',
      });
      const all = t.record('message.written');
      const duplicates = t.record('message.written', (e) => e.duplicate);
      const id = before.session.id;
      await t.runtime.writeMessage(id, t.chat('m1', 'one'));
      await t.runtime.writeMessage(id, t.chat('m2', 'two'));
      await t.runtime.writeMessage(id, t.chat('m1', 'one'));
      expect(all.map((e) => [e.id, e.seq, e.duplicate])).toEqual([
        ['m1', 2, false],
        ['m2', 4, false],
        ['m1', 2, true],
      ]);
      expect(duplicates.map((e) => e.id)).toEqual(['m1']);
    } finally {
      await t.close();
    }
  });

  it('reopen continues on the same data directory, clock and ids, and then owns the directory', async () => {
    const first = await createTestRuntime({ driver: 'none', passivateMs: 1_000 });
    let second: Awaited<ReturnType<typeof first.reopen>> | undefined;
    try {
      await first.runtime.upsertAgentGroup({ id: 'ag', name: 'Agent' });
      const resolve = (t: typeof first, threadId: string) =>
        t.runtime.resolveSession({ agentGroupId: 'ag', messagingGroupId: null, threadId, mode: 'per-thread' });
      const { session } = await resolve(first, 'a');
      await first.runtime.writeMessage(session.id, first.chat('m1', 'before the restart'));
      await first.clock.advance(5_000);
      second = await first.reopen();
      await expect(first.runtime.wake(session.id)).rejects.toMatchObject({ code: 'RUNTIME_CLOSED' });
      expect(second.dataDir).toBe(first.dataDir);
      expect(second.clock.now()).toBe(TEST_START + 5_000);
      expect(second.runtime.getSession(session.id)?.threadId).toBe('a');
      // The same id source: the next session is not a second sess-1.
      expect((await resolve(second, 'b')).session.id).toBe('sess-2');
      // Options carry over (driver 'none'); the first runtime's close leaves the directory.
      await expect(second.runtime.wake(session.id)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await first.close();
      expect(existsSync(join(second.dataDir, 'v2.db'))).toBe(true);
      await expect(first.reopen()).rejects.toThrow(/after close/);
    } finally {
      await first.close();
      await second?.close();
    }
    expect(existsSync(first.dataDir)).toBe(false);
  });

  it('channels: null keeps the runtime default, the console adapter, for every channel type', async () => {
    const writes: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stdout.write);
    const t = await createTestRuntime({ channels: null, driver: 'none' });
    try {
      const session = await oneSession(t.runtime, { channelType: 'anything', platformId: 'P' });
      const delivered = t.record('outbound.delivered');
      await t.runtime.writeOutboundDirect(session.id, {
        id: 'o1',
        kind: 'chat',
        channelType: 'anything',
        platformId: 'P',
        threadId: null,
        content: '{"text":"printed"}',
      });
      await t.settle();
      expect(delivered.map((e) => e.messageId)).toEqual(['o1']);
      expect(writes).toEqual(['[anything:P] printed\n']);
      expect(t.channels.delivered).toEqual([]);
    } finally {
      vi.restoreAllMocks();
      await t.close();
    }
  });

  it('channelTypes: a delivery to any other type fails "no adapter"', async () => {
    const t = await createTestRuntime({ channelTypes: ['slack'], driver: 'none' });
    try {
      await t.runtime.upsertAgentGroup({ id: 'ag', name: 'Agent' });
      let session!: { id: string };
      for (const channelType of ['slack', 'slak']) {
        await t.runtime.upsertMessagingGroup({ id: `mg-${channelType}`, channelType, platformId: 'C1' });
        ({ session } = await t.runtime.resolveSession({
          agentGroupId: 'ag',
          messagingGroupId: `mg-${channelType}`,
          threadId: null,
          mode: 'agent-shared',
        }));
      }
      const failed = t.record('outbound.failed');
      for (const channelType of ['slack', 'slak']) {
        await t.runtime.writeOutboundDirect(session.id, {
          id: `to-${channelType}`,
          kind: 'chat',
          channelType,
          platformId: 'C1',
          threadId: null,
          content: '{}',
        });
      }
      await t.settle();
      expect(t.channels.delivered.map((d) => d.messageId)).toEqual(['to-slack']);
      expect(failed.map((e) => [e.messageId, e.error.message])).toEqual([
        ['to-slak', 'no adapter for channel type slak'],
      ]);
    } finally {
      await t.close();
    }
  });

  it('settles while a refused delivery waits for its retry, and advancing past the backoff delivers it', async () => {
    // Before: a delivery waiting on its backoff timer counted as work in flight, so on the
    // simulated clock whenIdle(), settle() and advance() never resolved.
    const t = await createTestRuntime({ driver: 'none', deliveryAttempts: 2, deliveryBackoffMs: 100 });
    try {
      const session = await oneSession(t.runtime, { channelType: 'slack', platformId: 'C1' });
      t.channels.channel('slack').failNext(1);
      const delivered = t.record('outbound.delivered');
      await t.runtime.writeOutboundDirect(session.id, {
        id: 'note',
        kind: 'chat',
        channelType: 'slack',
        platformId: 'C1',
        threadId: null,
        content: '{}',
      });
      await t.settle();
      expect(t.channels.failed.map((f) => f.delivery.messageId)).toEqual(['note']);
      expect(delivered).toEqual([]);
      await t.clock.advance(99);
      expect(delivered).toEqual([]);
      await t.clock.advance(1);
      expect(delivered.map((e) => e.messageId)).toEqual(['note']);
      expect(t.channels.delivered.map((d) => d.messageId)).toEqual(['note']);
    } finally {
      await t.close();
    }
  });
});
