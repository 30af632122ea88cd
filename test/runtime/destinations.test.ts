/**
 * A session's `destinations` table lists every messaging group wired to its agent group, named as
 * NanoClaw names them, and delivery refuses a row addressed anywhere else (issue 10 item 2).
 *
 * Before this, `destinations` held only the session's own messaging group (named after its
 * channel type), nothing was recorded centrally, and a row addressed to any (channel_type,
 * platform_id) at all was handed to the adapter and recorded delivered.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { sequentialIds } from '../../src/runtime/clock.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { insertOutbound, withOutbound } from '../../src/testing/container-files.js';
import { recordingChannels, TestClock } from '../../src/testing/index.js';
import { markHostRow } from '../../src/store/host-tables.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { T0 } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

interface DestinationRow {
  name: string;
  display_name: string | null;
  type: string;
  channel_type: string | null;
  platform_id: string | null;
  agent_group_id: string | null;
}

function destinations(rt: Runtime, sessionId: string): DestinationRow[] {
  const db = new Database(rt.paths.inboundDbPath('ag', sessionId), { readonly: true });
  try {
    return db.prepare('SELECT * FROM destinations ORDER BY name').all() as DestinationRow[];
  } finally {
    db.close();
  }
}

function deliveredRows(rt: Runtime, sessionId: string) {
  const db = new Database(rt.paths.inboundDbPath('ag', sessionId), { readonly: true });
  try {
    return db.prepare('SELECT message_out_id, status FROM delivered ORDER BY message_out_id').all();
  } finally {
    db.close();
  }
}

const channel = (name: string, displayName: string, channelType: string, platformId: string): DestinationRow => ({
  name,
  display_name: displayName,
  type: 'channel',
  channel_type: channelType,
  platform_id: platformId,
  agent_group_id: null,
});

async function start(dataDir: string, clock = new TestClock(T0)) {
  const driver = fakeDriver();
  const channels = recordingChannels();
  const rt = await createRuntime({
    dataDir,
    clock,
    driver,
    channels: channels.adapters,
    ids: sequentialIds(),
    pollMs: 1000,
  });
  return { rt, clock, driver, channels };
}

/** Four messaging groups reach agent group `ag` in three modes; `other` is wired to `ag-other` only. */
async function wire(rt: Runtime) {
  await rt.upsertAgentGroup({ id: 'ag', name: 'Agent' });
  await rt.upsertAgentGroup({ id: 'ag-other', name: 'Other' });
  await rt.upsertMessagingGroup({ id: 'mg-slack', channelType: 'slack', platformId: 'C1', name: 'General Chat!!' });
  await rt.upsertMessagingGroup({ id: 'mg-discord', channelType: 'discord', platformId: 'D1', name: 'general chat' });
  await rt.upsertMessagingGroup({ id: 'tg9876543210', channelType: 'telegram', platformId: 'T1' });
  await rt.upsertMessagingGroup({
    id: 'mg-ops',
    channelType: 'slack',
    platformId: 'C2',
    name: '  Ops / Alerts (prod) ',
  });
  await rt.upsertMessagingGroup({ id: 'mg-elsewhere', channelType: 'slack', platformId: 'C9', name: 'elsewhere' });
  const resolve = (
    messagingGroupId: string,
    mode: 'shared' | 'per-thread' | 'agent-shared',
    threadId = null as string | null,
  ) => rt.resolveSession({ agentGroupId: 'ag', messagingGroupId, threadId, mode }).then((r) => r.session.id);
  const shared = await resolve('mg-slack', 'shared');
  const perThread = await resolve('mg-discord', 'per-thread', 'thread-1');
  const agentShared = await resolve('tg9876543210', 'agent-shared');
  expect(await resolve('mg-ops', 'agent-shared')).toBe(agentShared);
  await rt.resolveSession({
    agentGroupId: 'ag-other',
    messagingGroupId: 'mg-elsewhere',
    threadId: null,
    mode: 'shared',
  });
  return { shared, perThread, agentShared };
}

const ALL = [
  channel('general-chat', 'General Chat!!', 'slack', 'C1'),
  channel('general-chat-2', 'general chat', 'discord', 'D1'),
  channel('ops-alerts-prod', '  Ops / Alerts (prod) ', 'slack', 'C2'),
  channel('telegram-tg987654', 'telegram-tg987654', 'telegram', 'T1'),
];

describe('destinations', () => {
  it('every session of the agent group lists every messaging group that reached it, in any mode, with NanoClaw names', async () => {
    const { rt } = await start(tmp());
    try {
      const sessions = await wire(rt);
      for (const id of Object.values(sessions)) {
        await rt.wake(id);
        expect(destinations(rt, id)).toEqual(ALL);
      }
    } finally {
      await rt.close();
    }
  });

  it('is rewritten on every wake: a messaging group that reaches the group later shows up at the next one', async () => {
    const { rt } = await start(tmp());
    try {
      const { shared } = await wire(rt);
      await rt.wake(shared);
      await rt.stop(shared);
      await rt.upsertMessagingGroup({ id: 'mg-new', channelType: 'slack', platformId: 'C3', name: 'General chat' });
      await rt.resolveSession({ agentGroupId: 'ag', messagingGroupId: 'mg-new', threadId: 't', mode: 'per-thread' });
      await rt.wake(shared);
      expect(destinations(rt, shared)).toEqual(
        [...ALL, channel('general-chat-3', 'General chat', 'slack', 'C3')].sort((a, b) => a.name.localeCompare(b.name)),
      );
    } finally {
      await rt.close();
    }
  });

  it('the record survives a restart: a new runtime on the same directory writes the same table, and keeps numbering', async () => {
    const dataDir = tmp();
    const first = await start(dataDir);
    const { agentShared } = await wire(first.rt);
    await first.rt.close();

    const { rt } = await start(dataDir, new TestClock(T0 + 1000));
    try {
      await rt.wake(agentShared);
      expect(destinations(rt, agentShared)).toEqual(ALL);
      await rt.stop(agentShared);
      await rt.upsertMessagingGroup({ id: 'mg-late', channelType: 'teams', platformId: 'X', name: 'GENERAL---chat' });
      await rt.resolveSession({
        agentGroupId: 'ag',
        messagingGroupId: 'mg-late',
        threadId: null,
        mode: 'agent-shared',
      });
      await rt.wake(agentShared);
      expect(destinations(rt, agentShared).map((d) => d.name)).toEqual([
        'general-chat',
        'general-chat-2',
        'general-chat-3',
        'ops-alerts-prod',
        'telegram-tg987654',
      ]);
    } finally {
      await rt.close();
    }
  });

  it('another agent group does not see them, nor they its messaging groups', async () => {
    const { rt } = await start(tmp());
    try {
      await wire(rt);
      const other = rt.listSessions({ agentGroupId: 'ag-other' })[0]!;
      await rt.wake(other.id);
      const db = new Database(rt.paths.inboundDbPath('ag-other', other.id), { readonly: true });
      try {
        expect(db.prepare('SELECT name, channel_type, platform_id FROM destinations').all()).toEqual([
          { name: 'elsewhere', channel_type: 'slack', platform_id: 'C9' },
        ]);
      } finally {
        db.close();
      }
    } finally {
      await rt.close();
    }
  });
});

describe('delivery checks the destination', () => {
  /** Plays the container: one reply row addressed to (channelType, platformId). */
  function reply(rt: Runtime, sessionId: string, id: string, seq: number, channelType: string, platformId: string) {
    withOutbound(rt.paths.outboundDbPath('ag', sessionId), (db) =>
      insertOutbound(
        db,
        {
          id,
          inReplyTo: null,
          kind: 'chat',
          content: JSON.stringify({ text: id }),
          deliverAfter: null,
          channel_type: channelType,
          platform_id: platformId,
          thread_id: null,
        },
        seq,
        new Date(T0).toISOString(),
      ),
    );
  }

  it('a row to another destination of the agent group is delivered; one to an address that is none is recorded failed, never handed to an adapter', async () => {
    const { rt, clock, channels } = await start(tmp());
    try {
      const { shared } = await wire(rt);
      const failed: { messageId: string; error: Error }[] = [];
      const delivered: string[] = [];
      rt.on('outbound.failed', (e) => failed.push(e));
      rt.on('outbound.delivered', (e) => delivered.push(e.messageId));
      await rt.wake(shared);
      reply(rt, shared, 'to-discord', 1, 'discord', 'D1'); // reached the group through another session
      reply(rt, shared, 'to-elsewhere', 3, 'slack', 'C9'); // wired to another agent group only
      reply(rt, shared, 'to-nowhere', 5, 'slack', 'C404'); // no messaging group at all
      clock.increment(1000);
      await rt.whenIdle();

      expect(delivered).toEqual(['to-discord']);
      expect(channels.delivered.map((d) => [d.messageId, d.channelType, d.platformId])).toEqual([
        ['to-discord', 'discord', 'D1'],
      ]);
      expect(channels.failed).toEqual([]);
      expect(failed.map((e) => [e.messageId, e.error.message])).toEqual([
        ['to-elsewhere', expect.stringContaining('unknown destination')],
        ['to-nowhere', expect.stringContaining('unknown destination')],
      ]);
      expect(deliveredRows(rt, shared)).toEqual([
        { message_out_id: 'to-discord', status: 'delivered' },
        { message_out_id: 'to-elsewhere', status: 'failed' },
        { message_out_id: 'to-nowhere', status: 'failed' },
      ]);
      // Settled: later polls do not try again.
      clock.increment(5000);
      await rt.whenIdle();
      expect(failed).toHaveLength(2);
      expect(channels.delivered).toHaveLength(1);
    } finally {
      await rt.close();
    }
  });
});

describe('host-originated messages', () => {
  it('a writeOutboundDirect made while the container is stopped is the host’s own: delivered to any address', async () => {
    // Before: written into messages_out while stopped, it was read back as the container's and
    // refused as "unknown destination", while the same call with a container running went out.
    const { rt, clock, channels } = await start(tmp());
    try {
      const { shared } = await wire(rt);
      await rt.writeOutboundDirect(shared, {
        id: 'note-1',
        kind: 'chat',
        channelType: 'slack',
        platformId: 'C-not-a-destination',
        threadId: null,
        content: '{"text":"from the host"}',
      });
      expect(rt.containerStatus(shared)).toBe('stopped');
      clock.increment(1000);
      await rt.whenIdle();
      expect(channels.delivered.map((d) => [d.messageId, d.channelType, d.platformId])).toEqual([
        ['note-1', 'slack', 'C-not-a-destination'],
      ]);
      expect(deliveredRows(rt, shared)).toEqual([{ message_out_id: 'note-1', status: 'delivered' }]);
    } finally {
      await rt.close();
    }
  });

  it('a container that readdresses the host’s row under the same id gets the container’s checks: refused', async () => {
    // Set on disk between two runs, so no poll can come first: the host wrote note-1 to C7 while
    // stopped; a container then rewrote it to C404 (no destination of the group).
    const dataDir = tmp();
    const first = await start(dataDir);
    const { shared } = await wire(first.rt);
    await first.rt.close();
    const inbound = new Database(first.rt.paths.inboundDbPath('ag', shared));
    markHostRow(inbound, 'note-1', { channel_type: 'slack', platform_id: 'C7', thread_id: null });
    inbound.close();
    withOutbound(first.rt.paths.outboundDbPath('ag', shared), (db) =>
      insertOutbound(
        db,
        {
          id: 'note-1',
          inReplyTo: null,
          kind: 'chat',
          content: '{"text":"readdressed"}',
          deliverAfter: null,
          channel_type: 'slack',
          platform_id: 'C404',
          thread_id: null,
        },
        1,
        new Date(T0).toISOString(),
      ),
    );

    const { rt, clock, channels } = await start(dataDir, new TestClock(T0 + 1000));
    try {
      await rt.wake(shared);
      clock.increment(1000);
      await rt.whenIdle();
      expect(channels.delivered).toEqual([]);
      expect(deliveredRows(rt, shared)).toEqual([{ message_out_id: 'note-1', status: 'failed' }]);
    } finally {
      await rt.close();
    }
  });
});
