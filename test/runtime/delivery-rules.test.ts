/**
 * Where a container's rows may go (issue 10 item 3), with the test playing the container: it
 * writes `outbound.db` rows (and outbox folders) itself while a scripted container "runs".
 *
 * Before this: `kind: 'system'` rows were handed to a channel adapter; with `channels` given, a
 * row for a channel type without an adapter (a typo, `slak`) was printed to stdout by the console
 * adapter and recorded delivered; `__proto__` or `constructor` found a property of
 * `Object.prototype`; and a reply listing files whose outbox could not be read was retried on
 * every poll forever.
 */
import Database from 'better-sqlite3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sequentialIds } from '../../src/runtime/clock.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import type { ChannelAdapter, OutboundDelivery } from '../../src/runtime/types.js';
import { insertOutbound, maxSeq, nextOddAbove, withOutbound, withReadOnly } from '../../src/testing/container-files.js';
import { TestClock } from '../../src/testing/index.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { T0 } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

afterEach(() => {
  vi.restoreAllMocks();
});

function recorder() {
  const calls: OutboundDelivery[] = [];
  const adapter: ChannelAdapter = {
    async deliver(msg) {
      calls.push(msg);
      return { platformMessageId: `p-${calls.length}` };
    },
  };
  return { adapter, calls };
}

/** Everything the runtime emits about deliveries, in order. */
function watch(rt: Runtime) {
  const seen = {
    delivered: [] as string[],
    failed: [] as [string, string][],
    system: [] as { sessionId: string; messageId: string; content: unknown }[],
    violations: [] as { kind: string; detail: string }[],
    errors: [] as Error[],
  };
  rt.on('outbound.delivered', (e) => seen.delivered.push(e.messageId));
  rt.on('outbound.failed', (e) => seen.failed.push([e.messageId, e.error.message]));
  rt.on('system.message', (e) => seen.system.push(e));
  rt.on('container.violation', (e) => seen.violations.push({ kind: e.kind, detail: e.detail }));
  rt.on('error', (e) => seen.errors.push(e.error));
  return seen;
}

async function setup(channels: Record<string, ChannelAdapter> | undefined) {
  const clock = new TestClock(T0);
  const rt = await createRuntime({
    dataDir: tmp(),
    clock,
    driver: fakeDriver(),
    ids: sequentialIds(),
    pollMs: 1000,
    ...(channels === undefined ? {} : { channels }),
  });
  await rt.upsertAgentGroup({ id: 'ag', name: 'Agent' });
  await rt.upsertMessagingGroup({ id: 'mg', channelType: 'slack', platformId: 'C1', name: 'general' });
  // An orchestrator that registered a messaging group under a misspelt channel type.
  await rt.upsertMessagingGroup({ id: 'mg-typo', channelType: 'slak', platformId: 'C2', name: 'typo' });
  const { session } = await rt.resolveSession({
    agentGroupId: 'ag',
    messagingGroupId: 'mg',
    threadId: null,
    mode: 'agent-shared',
  });
  await rt.resolveSession({ agentGroupId: 'ag', messagingGroupId: 'mg-typo', threadId: null, mode: 'agent-shared' });
  const seen = watch(rt);
  await rt.wake(session.id);
  const sessionId = session.id;
  const paths = {
    inbound: rt.paths.inboundDbPath('ag', sessionId),
    outbound: rt.paths.outboundDbPath('ag', sessionId),
    outbox: join(rt.paths.sessionDir('ag', sessionId), 'outbox'),
  };
  /** Plays the container: a row with the next odd seq over both tables. */
  const write = (row: { id: string; kind?: string; content: unknown; channelType?: string; platformId?: string }) => {
    const maxIn = withReadOnly(paths.inbound, (db) => maxSeq(db, 'messages_in'));
    withOutbound(paths.outbound, (db) =>
      insertOutbound(
        db,
        {
          id: row.id,
          inReplyTo: null,
          kind: row.kind ?? 'chat',
          content: JSON.stringify(row.content),
          deliverAfter: null,
          channel_type: row.channelType ?? 'slack',
          platform_id: row.platformId ?? 'C1',
          thread_id: null,
        },
        nextOddAbove(Math.max(maxIn, maxSeq(db, 'messages_out'))),
        '2026-01-01 00:00:00',
      ),
    );
  };
  const polls = async (n: number) => {
    for (let i = 0; i < n; i++) {
      clock.increment(1000);
      await rt.whenIdle();
    }
  };
  const records = () => {
    const db = new Database(paths.inbound, { readonly: true });
    try {
      return db.prepare('SELECT message_out_id, status FROM delivered ORDER BY message_out_id').all();
    } finally {
      db.close();
    }
  };
  return { rt, clock, sessionId, seen, write, polls, records, paths };
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
    const slack = recorder();
    const { rt, sessionId, seen, write, polls, records } = await setup({ slack: slack.adapter });
    try {
      const content = { type: 'ask_question', questionId: 'q1', title: 'Deploy?' };
      write({ id: 'sys-1', kind: 'system', content });
      await polls(1);
      expect(seen.system).toEqual([{ sessionId, messageId: 'sys-1', content }]);
      expect(slack.calls).toEqual([]);
      expect(seen.failed).toEqual([]);
      expect(records()).toEqual([{ message_out_id: 'sys-1', status: 'delivered' }]);
      await polls(3);
      expect(seen.system).toHaveLength(1);
    } finally {
      await rt.close();
    }
  });

  it('never reach the console adapter either, when no channels are given', async () => {
    const writes = await stdoutOf(async () => {
      const { rt, seen, write, polls } = await setup(undefined);
      try {
        write({ id: 'sys-1', kind: 'system', content: { type: 'ask_question', title: 'console-marker-q' } });
        await polls(1);
        expect(seen.system).toHaveLength(1);
      } finally {
        await rt.close();
      }
    });
    expect(writes.filter((w) => w.includes('console-marker-q'))).toEqual([]);
  });
});

describe('channel types without an adapter', () => {
  it('with `channels` given, a row for `slak` is recorded failed, never delivered nor printed', async () => {
    const slack = recorder();
    let ctx!: Awaited<ReturnType<typeof setup>>;
    const writes = await stdoutOf(async () => {
      ctx = await setup({ slack: slack.adapter });
      ctx.write({ id: 'typo-1', content: { text: 'typo-marker' }, channelType: 'slak', platformId: 'C2' });
      await ctx.polls(1);
      await ctx.rt.writeOutboundDirect(ctx.sessionId, {
        id: 'typo-2',
        kind: 'chat',
        channelType: 'slak',
        platformId: 'C2',
        threadId: null,
        content: '{"text":"typo-marker"}',
      });
      await ctx.polls(2);
    });
    try {
      expect(ctx.seen.failed).toEqual([
        ['typo-1', 'no adapter for channel type slak'],
        ['typo-2', 'no adapter for channel type slak'],
      ]);
      expect(ctx.seen.delivered).toEqual([]);
      expect(slack.calls).toEqual([]);
      expect(writes.filter((w) => w.includes('typo-marker'))).toEqual([]);
      expect(ctx.records()).toEqual([
        { message_out_id: 'typo-1', status: 'failed' },
        { message_out_id: 'typo-2', status: 'failed' },
      ]);
    } finally {
      await ctx.rt.close();
    }
  });

  it('`__proto__`, `constructor`, `toString` are unknown channel types, not properties of Object.prototype', async () => {
    const slack = recorder();
    const { rt, sessionId, seen, polls, records } = await setup({ slack: slack.adapter });
    try {
      for (const channelType of ['__proto__', 'constructor', 'toString']) {
        await rt.writeOutboundDirect(sessionId, {
          id: `to-${channelType}`,
          kind: 'chat',
          channelType,
          platformId: 'x',
          threadId: null,
          content: '{}',
        });
      }
      await polls(2);
      expect(seen.failed.sort()).toEqual([
        ['to-__proto__', 'no adapter for channel type __proto__'],
        ['to-constructor', 'no adapter for channel type constructor'],
        ['to-toString', 'no adapter for channel type toString'],
      ]);
      expect(records()).toHaveLength(3);
      expect(seen.errors).toEqual([]);
    } finally {
      await rt.close();
    }
  });

  it('without `channels`, the console adapter delivers every channel type', async () => {
    let seen!: ReturnType<typeof watch>;
    const writes = await stdoutOf(async () => {
      const ctx = await setup(undefined);
      seen = ctx.seen;
      try {
        ctx.write({ id: 'out-1', content: { text: 'console-marker-1' }, channelType: 'slak', platformId: 'C2' });
        await ctx.polls(1);
      } finally {
        await ctx.rt.close();
      }
    });
    expect(seen.delivered).toEqual(['out-1']);
    expect(writes.filter((w) => w.includes('console-marker-1'))).toEqual(['[slak:C2] console-marker-1\n']);
  });
});

describe('replies listing files', () => {
  it('are delivered with the files their outbox folder holds', async () => {
    const slack = recorder();
    const { rt, seen, write, polls, paths } = await setup({ slack: slack.adapter });
    try {
      mkdirSync(join(paths.outbox, 'with-files'));
      writeFileSync(join(paths.outbox, 'with-files', 'a.txt'), 'A');
      write({ id: 'with-files', content: { text: 'here', files: ['a.txt'] } });
      await polls(1);
      expect(slack.calls.map((c) => c.files)).toEqual([[{ filename: 'a.txt', data: Buffer.from('A') }]]);
      expect(seen.violations).toEqual([]);
    } finally {
      await rt.close();
    }
  });

  it('whose outbox folder is missing: delivered without files, reported once, not retried', async () => {
    const slack = recorder();
    const { rt, seen, write, polls, records } = await setup({ slack: slack.adapter });
    try {
      write({ id: 'no-folder', content: { text: 'see attached', files: ['report.pdf'] } });
      await polls(1);
      expect(slack.calls.map((c) => [c.messageId, c.content, c.files])).toEqual([
        ['no-folder', { text: 'see attached', files: ['report.pdf'] }, undefined],
      ]);
      expect(seen.delivered).toEqual(['no-folder']);
      expect(seen.violations).toEqual([{ kind: 'missing', detail: expect.stringContaining('no-folder') }]);
      expect(records()).toEqual([{ message_out_id: 'no-folder', status: 'delivered' }]);
      await polls(5);
      expect(slack.calls).toHaveLength(1);
      expect(seen.violations).toHaveLength(1);
    } finally {
      await rt.close();
    }
  });

  it('whose id names no folder: delivered without files, reported once, not retried', async () => {
    const slack = recorder();
    const { rt, seen, write, polls, records } = await setup({ slack: slack.adapter });
    try {
      write({ id: 'spaces/A/messages/B', content: { text: 'see attached', files: ['report.pdf'] } });
      write({ id: '..', content: { text: 'dots', files: ['x'] } });
      await polls(1);
      expect(slack.calls.map((c) => [c.messageId, c.files])).toEqual([
        ['spaces/A/messages/B', undefined],
        ['..', undefined],
      ]);
      expect(seen.violations).toEqual([
        { kind: 'unsafe-name', detail: expect.stringContaining('spaces/A/messages/B') },
        { kind: 'unsafe-name', detail: expect.stringContaining('"..') },
      ]);
      expect(records()).toEqual([
        { message_out_id: '..', status: 'delivered' },
        { message_out_id: 'spaces/A/messages/B', status: 'delivered' },
      ]);
      await polls(5);
      expect(slack.calls).toHaveLength(2);
      expect(seen.violations).toHaveLength(2);
      expect(seen.errors).toEqual([]);
    } finally {
      await rt.close();
    }
  });
});
