/**
 * Where a container's rows may go (issue 10 item 3), with the test kit's fake container
 * writing `outbound.db` rows (and outbox files) of its own (`container.send`).
 *
 * Before this: `kind: 'system'` rows were handed to a channel adapter; with `channels` given, a
 * row for a channel type without an adapter (a typo, `slak`) was printed to stdout by the console
 * adapter and recorded delivered; `__proto__` or `constructor` found a property of
 * `Object.prototype`; and a reply listing files whose outbox could not be read was retried on
 * every poll forever.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestRuntime, type TestRuntime, type TestRuntimeOptions } from '../../src/testing/index.js';

let t: TestRuntime | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await t?.close();
  t = undefined;
});

/**
 * An agent-shared session woken by hand (its container answers nothing: no message is written),
 * reached from Slack (`C1`) and from a messaging group registered under the misspelt `slak`.
 * The host and the container poll every second.
 */
async function setup(options: TestRuntimeOptions) {
  t = await createTestRuntime({ pollMs: 1000, agentPollMs: 1000, ...options });
  const kit = t;
  await kit.runtime.upsertAgentGroup({ id: 'ag', name: 'Agent' });
  await kit.runtime.upsertMessagingGroup({ id: 'mg', channelType: 'slack', platformId: 'C1', name: 'general' });
  // An orchestrator that registered a messaging group under a misspelt channel type.
  await kit.runtime.upsertMessagingGroup({ id: 'mg-typo', channelType: 'slak', platformId: 'C2', name: 'typo' });
  const { session } = await kit.runtime.resolveSession({
    agentGroupId: 'ag',
    messagingGroupId: 'mg',
    threadId: null,
    mode: 'agent-shared',
  });
  await kit.runtime.resolveSession({
    agentGroupId: 'ag',
    messagingGroupId: 'mg-typo',
    threadId: null,
    mode: 'agent-shared',
  });
  const sessionId = session.id;
  const seen = {
    delivered: kit.record('outbound.delivered'),
    failed: kit.record('outbound.failed'),
    system: kit.record('system.message'),
    violations: kit.record('container.violation'),
  };
  await kit.runtime.wake(sessionId);
  const container = kit.driver.running(sessionId)!;
  /** The container writes a row of its own, to Slack `C1` unless told otherwise. */
  const write = (row: {
    id: string;
    kind?: string;
    content: unknown;
    files?: Record<string, string>;
    channelType?: string;
    platformId?: string;
  }) =>
    container.send({
      id: row.id,
      kind: row.kind,
      content: row.content,
      files: row.files,
      address: { channel_type: row.channelType ?? 'slack', platform_id: row.platformId ?? 'C1', thread_id: null },
    });
  /** `n` polls of the host. */
  const polls = (n: number) => kit.clock.advance(1000 * n);
  const records = () => {
    const db = new Database(kit.runtime.paths.inboundDbPath('ag', sessionId), { readonly: true });
    try {
      return db.prepare('SELECT message_out_id, status FROM delivered ORDER BY message_out_id').all();
    } finally {
      db.close();
    }
  };
  return { t: kit, sessionId, seen, write, polls, records };
}

/** What went to stdout while `fn` ran, as one string per write. */
async function stdoutOf(fn: () => Promise<void>): Promise<string[]> {
  const writes: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
    writes.push(String(chunk));
    return original(chunk, ...rest);
  }) as typeof process.stdout.write);
  await fn();
  vi.restoreAllMocks();
  return writes;
}

describe('system rows', () => {
  it('raise system.message, are recorded delivered and never reach an adapter', async () => {
    const { t, sessionId, seen, write, polls, records } = await setup({ channelTypes: ['slack'] });
    const content = { type: 'ask_question', questionId: 'q1', title: 'Deploy?' };
    write({ id: 'sys-1', kind: 'system', content });
    await polls(1);
    expect(seen.system).toEqual([{ sessionId, messageId: 'sys-1', content }]);
    expect(t.channels.delivered).toEqual([]);
    expect(t.channels.failed).toEqual([]);
    expect(seen.failed).toEqual([]);
    expect(records()).toEqual([{ message_out_id: 'sys-1', status: 'delivered' }]);
    await polls(3);
    expect(seen.system).toHaveLength(1);
  });

  it('never reach the console adapter either, when no channels are given', async () => {
    const writes = await stdoutOf(async () => {
      const { t, seen, write, polls } = await setup({ channels: null });
      write({ id: 'sys-1', kind: 'system', content: { type: 'ask_question', title: 'console-marker-q' } });
      await polls(1);
      expect(seen.system).toHaveLength(1);
      await t.close();
    });
    expect(writes.filter((w) => w.includes('console-marker-q'))).toEqual([]);
  });
});

describe('channel types without an adapter', () => {
  it('with `channels` given, a row for `slak` is recorded failed, never delivered nor printed', async () => {
    let ctx!: Awaited<ReturnType<typeof setup>>;
    const writes = await stdoutOf(async () => {
      ctx = await setup({ channelTypes: ['slack'] });
      ctx.write({ id: 'typo-1', content: { text: 'typo-marker' }, channelType: 'slak', platformId: 'C2' });
      await ctx.polls(1);
      await ctx.t.runtime.writeOutboundDirect(ctx.sessionId, {
        id: 'typo-2',
        kind: 'chat',
        channelType: 'slak',
        platformId: 'C2',
        threadId: null,
        content: '{"text":"typo-marker"}',
      });
      await ctx.polls(2);
    });
    expect(ctx.seen.failed.map((e) => [e.messageId, e.error.message])).toEqual([
      ['typo-1', 'no adapter for channel type slak'],
      ['typo-2', 'no adapter for channel type slak'],
    ]);
    expect(ctx.seen.delivered).toEqual([]);
    expect(ctx.t.channels.delivered).toEqual([]);
    expect(writes.filter((w) => w.includes('typo-marker'))).toEqual([]);
    expect(ctx.records()).toEqual([
      { message_out_id: 'typo-1', status: 'failed' },
      { message_out_id: 'typo-2', status: 'failed' },
    ]);
  });

  it('`__proto__`, `constructor`, `toString` are unknown channel types, not properties of Object.prototype', async () => {
    // channelTypes gives an ordinary object, which inherits `constructor` and `toString`.
    const { t, sessionId, seen, polls, records } = await setup({ channelTypes: ['slack'] });
    for (const channelType of ['__proto__', 'constructor', 'toString']) {
      await t.runtime.writeOutboundDirect(sessionId, {
        id: `to-${channelType}`,
        kind: 'chat',
        channelType,
        platformId: 'x',
        threadId: null,
        content: '{}',
      });
    }
    await polls(2);
    expect(seen.failed.map((e) => [e.messageId, e.error.message]).sort()).toEqual([
      ['to-__proto__', 'no adapter for channel type __proto__'],
      ['to-constructor', 'no adapter for channel type constructor'],
      ['to-toString', 'no adapter for channel type toString'],
    ]);
    expect(records()).toHaveLength(3);
    expect(t.errors).toEqual([]);
  });

  it('without `channels`, the console adapter delivers every channel type', async () => {
    let delivered!: string[];
    const writes = await stdoutOf(async () => {
      const ctx = await setup({ channels: null });
      ctx.write({ id: 'out-1', content: { text: 'console-marker-1' }, channelType: 'slak', platformId: 'C2' });
      await ctx.polls(1);
      delivered = ctx.seen.delivered.map((e) => e.messageId);
      await ctx.t.close();
    });
    expect(delivered).toEqual(['out-1']);
    expect(writes.filter((w) => w.includes('console-marker-1'))).toEqual(['[slak:C2] console-marker-1\n']);
  });
});

describe('replies listing files', () => {
  it('are delivered with the files their outbox folder holds', async () => {
    const { t, seen, write, polls } = await setup({ channelTypes: ['slack'] });
    write({ id: 'with-files', content: { text: 'here' }, files: { 'a.txt': 'A' } });
    await polls(1);
    expect(t.channels.delivered.map((c) => [c.content, c.files])).toEqual([
      [{ text: 'here', files: ['a.txt'] }, [{ filename: 'a.txt', data: Buffer.from('A') }]],
    ]);
    expect(seen.violations).toEqual([]);
  });

  it('whose outbox folder is missing: delivered without files, reported once, not retried', async () => {
    const { t, seen, write, polls, records } = await setup({ channelTypes: ['slack'] });
    write({ id: 'no-folder', content: { text: 'see attached', files: ['report.pdf'] } });
    await polls(1);
    expect(t.channels.delivered.map((c) => [c.messageId, c.content, c.files])).toEqual([
      ['no-folder', { text: 'see attached', files: ['report.pdf'] }, undefined],
    ]);
    expect(seen.delivered.map((e) => e.messageId)).toEqual(['no-folder']);
    expect(seen.violations.map((v) => ({ kind: v.kind, detail: v.detail }))).toEqual([
      { kind: 'missing', detail: expect.stringContaining('no-folder') },
    ]);
    expect(records()).toEqual([{ message_out_id: 'no-folder', status: 'delivered' }]);
    await polls(5);
    expect(t.channels.delivered).toHaveLength(1);
    expect(seen.violations).toHaveLength(1);
  });

  it('whose id names no folder: delivered without files, reported once, not retried', async () => {
    const { t, seen, write, polls, records } = await setup({ channelTypes: ['slack'] });
    write({ id: 'spaces/A/messages/B', content: { text: 'see attached', files: ['report.pdf'] } });
    write({ id: '..', content: { text: 'dots', files: ['x'] } });
    await polls(1);
    expect(t.channels.delivered.map((c) => [c.messageId, c.files])).toEqual([
      ['spaces/A/messages/B', undefined],
      ['..', undefined],
    ]);
    expect(seen.violations.map((v) => ({ kind: v.kind, detail: v.detail }))).toEqual([
      { kind: 'unsafe-name', detail: expect.stringContaining('spaces/A/messages/B') },
      { kind: 'unsafe-name', detail: expect.stringContaining('"..') },
    ]);
    expect(records()).toEqual([
      { message_out_id: '..', status: 'delivered' },
      { message_out_id: 'spaces/A/messages/B', status: 'delivered' },
    ]);
    await polls(5);
    expect(t.channels.delivered).toHaveLength(2);
    expect(seen.violations).toHaveLength(2);
    expect(t.errors).toEqual([]);
  });
});
