/**
 * Opening a data directory NanoClaw wrote (issue 10 item 8): its sessions have no recorded mode,
 * so the first `agent-shared` resolution of an agent group adopts the session NanoClaw's own
 * lookup returns — the group's newest active one — and pins it as the anchor. Sessions this
 * library created keep their modes.
 *
 * Before this, that first resolution forked a new, empty conversation beside the one NanoClaw
 * had been running.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { sequentialIds } from '../../src/runtime/clock.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { insertOutbound, withOutbound } from '../../src/testing/container-files.js';
import { recordingChannels, TestClock } from '../../src/testing/index.js';
import { writeNanoClawDataDir, type NanoClawSpec } from '../fixtures/nanoclaw-data-dir.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { T0 } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

const SPEC: NanoClawSpec = {
  agentGroups: [
    { id: 'ag-nc', name: 'Assistant' },
    { id: 'ag-two', name: 'Other' },
  ],
  messagingGroups: [
    { id: 'mg-a', channelType: 'slack', platformId: 'C-A', name: 'team' },
    { id: 'mg-b', channelType: 'discord', platformId: 'D-B', name: 'friends' },
  ],
  wiring: [
    { agentGroupId: 'ag-nc', messagingGroupId: 'mg-a', sessionMode: 'agent-shared' },
    { agentGroupId: 'ag-nc', messagingGroupId: 'mg-b', sessionMode: 'agent-shared' },
  ],
  sessions: [
    { id: 'nc-old', agentGroupId: 'ag-nc', messagingGroupId: 'mg-a', createdAt: '2025-01-10T09:00:00.000Z' },
    { id: 'nc-new', agentGroupId: 'ag-nc', messagingGroupId: 'mg-b', createdAt: '2025-02-10T09:00:00.000Z' },
    // Newer, but closed: NanoClaw's lookup takes only active sessions.
    {
      id: 'nc-closed',
      agentGroupId: 'ag-nc',
      messagingGroupId: 'mg-a',
      status: 'closed',
      createdAt: '2025-03-10T09:00:00.000Z',
    },
    // Newest of all, but of another agent group.
    { id: 'nc-two', agentGroupId: 'ag-two', messagingGroupId: 'mg-a', createdAt: '2025-04-10T09:00:00.000Z' },
  ],
};

async function open(dataDir: string, at = T0) {
  const driver = fakeDriver();
  const channels = recordingChannels();
  const clock = new TestClock(at);
  const rt = await createRuntime({
    dataDir,
    clock,
    driver,
    channels: channels.adapters,
    ids: { next: (prefix) => `${prefix}-${at}-${++minted}` },
    pollMs: 1000,
  });
  return { rt, clock, driver, channels };
}
let minted = 0;

const agentShared = (rt: Runtime, messagingGroupId: string | null) =>
  rt.resolveSession({ agentGroupId: 'ag-nc', messagingGroupId, threadId: null, mode: 'agent-shared' });

describe('a NanoClaw data directory', () => {
  it('the first agent-shared resolution returns the newest active session of the group and pins it', async () => {
    const dataDir = tmp();
    writeNanoClawDataDir(dataDir, SPEC);
    const { rt } = await open(dataDir);
    try {
      await expect(agentShared(rt, 'mg-a')).resolves.toMatchObject({ session: { id: 'nc-new' }, created: false });
      await expect(agentShared(rt, 'mg-b')).resolves.toMatchObject({ session: { id: 'nc-new' }, created: false });
      await expect(agentShared(rt, null)).resolves.toMatchObject({ session: { id: 'nc-new' }, created: false });
      expect(rt.listSessions({ agentGroupId: 'ag-nc' }).map((s) => s.id)).toEqual(['nc-old', 'nc-new', 'nc-closed']);
    } finally {
      await rt.close();
    }
  });

  it('the pinned anchor stays the anchor after a restart, even when a newer session of the group appears', async () => {
    const dataDir = tmp();
    writeNanoClawDataDir(dataDir, SPEC);
    const first = await open(dataDir);
    await agentShared(first.rt, 'mg-a');
    await first.rt.close();
    // A newer unmoded session appears (say NanoClaw ran once more): the anchor is not "the newest".
    const later = new Database(`${dataDir}/v2.db`);
    later
      .prepare(
        "INSERT INTO sessions (id, agent_group_id, messaging_group_id, status, container_status, created_at) VALUES ('nc-later', 'ag-nc', 'mg-b', 'active', 'stopped', '2025-05-01T00:00:00Z')",
      )
      .run();
    later.close();

    const { rt } = await open(dataDir, T0 + 1000);
    try {
      await expect(agentShared(rt, 'mg-b')).resolves.toMatchObject({ session: { id: 'nc-new' }, created: false });
    } finally {
      await rt.close();
    }
  });

  it('once the adopted anchor is closed, the next resolution creates a new session, as for any anchor', async () => {
    const dataDir = tmp();
    writeNanoClawDataDir(dataDir, SPEC);
    const { rt } = await open(dataDir);
    try {
      await expect(agentShared(rt, 'mg-a')).resolves.toMatchObject({ session: { id: 'nc-new' } });
      await rt.closeSession('nc-new');
      const next = await agentShared(rt, 'mg-a');
      expect(next.created).toBe(true);
      expect(['nc-old', 'nc-new']).not.toContain(next.session.id);
      await expect(agentShared(rt, 'mg-b')).resolves.toMatchObject({
        session: { id: next.session.id },
        created: false,
      });
    } finally {
      await rt.close();
    }
  });

  it('other modes still find the sessions NanoClaw made for their keys', async () => {
    const dataDir = tmp();
    writeNanoClawDataDir(dataDir, SPEC);
    const { rt } = await open(dataDir);
    try {
      await expect(
        rt.resolveSession({ agentGroupId: 'ag-nc', messagingGroupId: 'mg-a', threadId: null, mode: 'shared' }),
      ).resolves.toMatchObject({ session: { id: 'nc-old' }, created: false });
      await expect(agentShared(rt, 'mg-a')).resolves.toMatchObject({ session: { id: 'nc-new' }, created: false });
    } finally {
      await rt.close();
    }
  });

  it('an agent group with no active session gets a new one', async () => {
    const dataDir = tmp();
    writeNanoClawDataDir(dataDir, { ...SPEC, sessions: SPEC.sessions.filter((s) => s.id === 'nc-closed') });
    const { rt } = await open(dataDir);
    try {
      const { session, created } = await agentShared(rt, 'mg-a');
      expect(created).toBe(true);
      expect(session.id).not.toBe('nc-closed');
    } finally {
      await rt.close();
    }
  });

  it("leaves NanoClaw's own tables alone", async () => {
    const dataDir = tmp();
    writeNanoClawDataDir(dataDir, SPEC);
    const { rt } = await open(dataDir);
    await agentShared(rt, 'mg-a');
    await rt.close();
    const db = new Database(`${dataDir}/v2.db`, { readonly: true });
    try {
      expect(
        db.prepare('SELECT messaging_group_id, agent_group_id, session_mode FROM messaging_group_agents').all(),
      ).toEqual([
        { messaging_group_id: 'mg-a', agent_group_id: 'ag-nc', session_mode: 'agent-shared' },
        { messaging_group_id: 'mg-b', agent_group_id: 'ag-nc', session_mode: 'agent-shared' },
      ]);
      expect(db.prepare('SELECT version FROM schema_version').all()).toEqual([{ version: 1 }]);
    } finally {
      db.close();
    }
  });

  it("a session NanoClaw made delivers its container's reply to its own messaging group, without a resolution first", async () => {
    // Destinations are recorded at resolution; a session NanoClaw created was never resolved here,
    // so its own messaging group was refused as an "unknown destination".
    const dataDir = tmp();
    writeNanoClawDataDir(dataDir, SPEC);
    const { rt, clock, channels } = await open(dataDir);
    try {
      const failed: string[] = [];
      rt.on('outbound.failed', (e) => failed.push(e.error.message));
      await rt.wake('nc-old');
      withOutbound(rt.paths.outboundDbPath('ag-nc', 'nc-old'), (db) =>
        insertOutbound(
          db,
          {
            id: 'hello',
            inReplyTo: null,
            kind: 'chat',
            content: '{"text":"still here"}',
            deliverAfter: null,
            channel_type: 'slack',
            platform_id: 'C-A',
            thread_id: null,
          },
          1,
          '2026-01-01 00:00:00',
        ),
      );
      clock.increment(1000);
      await rt.whenIdle();
      expect(failed).toEqual([]);
      expect(channels.delivered.map((d) => [d.messageId, d.channelType, d.platformId])).toEqual([
        ['hello', 'slack', 'C-A'],
      ]);
      const inbound = new Database(rt.paths.inboundDbPath('ag-nc', 'nc-old'), { readonly: true });
      try {
        expect(inbound.prepare('SELECT name, channel_type, platform_id FROM destinations').all()).toEqual([
          { name: 'team', channel_type: 'slack', platform_id: 'C-A' },
        ]);
      } finally {
        inbound.close();
      }
    } finally {
      await rt.close();
    }
  });
});

describe('a data directory this library wrote', () => {
  it('keeps the modes of its sessions: agent-shared forks its own anchor beside a shared session, also after a restart', async () => {
    const dataDir = tmp();
    const driver = fakeDriver();
    const make = (at: number) =>
      createRuntime({ dataDir, clock: new TestClock(at), driver, ids: sequentialIds(), pollMs: 1000 });
    const rt = await make(T0);
    await rt.upsertAgentGroup({ id: 'ag', name: 'Agent' });
    await rt.upsertMessagingGroup({ id: 'mg', channelType: 'slack', platformId: 'C1' });
    const resolve = (r: Runtime, mode: 'shared' | 'agent-shared') =>
      r.resolveSession({ agentGroupId: 'ag', messagingGroupId: 'mg', threadId: null, mode });
    const shared = await resolve(rt, 'shared');
    const anchor = await resolve(rt, 'agent-shared');
    expect(shared.created).toBe(true);
    expect(anchor.created).toBe(true);
    expect(anchor.session.id).not.toBe(shared.session.id);
    await rt.close();

    const again = await make(T0 + 1000);
    try {
      await expect(resolve(again, 'agent-shared')).resolves.toMatchObject({
        session: { id: anchor.session.id },
        created: false,
      });
      await expect(resolve(again, 'shared')).resolves.toMatchObject({
        session: { id: shared.session.id },
        created: false,
      });
    } finally {
      await again.close();
    }
  });
});
