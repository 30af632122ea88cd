import { existsSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

async function setup() {
  const ctx = await testRuntime(tmp());
  await ctx.rt.upsertAgentGroup({ id: 'ag-other', name: 'Other' });
  await ctx.rt.upsertMessagingGroup({ id: 'mg-tg', channelType: 'telegram', platformId: '42' });
  return ctx;
}

describe('registry: session modes', () => {
  it('resolves one session for 1000 concurrent calls of one key, created once', async () => {
    const { rt } = await setup();
    const results = await Promise.all(
      Array.from({ length: 1000 }, () =>
        rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-slack', threadId: null, mode: 'shared' }),
      ),
    );
    expect(new Set(results.map((r) => r.session.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(rt.listSessions()).toHaveLength(1);
    await rt.close();
  });

  it('scopes every lookup by agent group', async () => {
    const { rt } = await setup();
    for (const mode of ['shared', 'per-thread', 'agent-shared'] as const) {
      const a = await rt.resolveSession({
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        threadId: 't1',
        mode,
      });
      const b = await rt.resolveSession({
        agentGroupId: 'ag-other',
        messagingGroupId: 'mg-slack',
        threadId: 't1',
        mode,
      });
      expect(a.session.id).not.toBe(b.session.id);
      expect(b.session.agentGroupId).toBe('ag-other');
    }
    await rt.close();
  });

  it('shared: one session per (agent group, messaging group), thread ignored and stored as NULL', async () => {
    const { rt } = await setup();
    const a = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: 't1',
      mode: 'shared',
    });
    const b = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: 't2',
      mode: 'shared',
    });
    const c = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-tg',
      threadId: null,
      mode: 'shared',
    });
    expect(b.session.id).toBe(a.session.id);
    expect(a.session.threadId).toBeNull();
    expect(c.session.id).not.toBe(a.session.id);
    await rt.close();
  });

  it('per-thread: one session per thread, thread kept', async () => {
    const { rt } = await setup();
    const a = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: 't1',
      mode: 'per-thread',
    });
    const b = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: 't2',
      mode: 'per-thread',
    });
    const a2 = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: 't1',
      mode: 'per-thread',
    });
    expect(a.session.id).not.toBe(b.session.id);
    expect(a2).toMatchObject({ created: false, session: { id: a.session.id, threadId: 't1' } });
    await rt.close();
  });

  it('treats a null messaging group as a key of its own, idempotently', async () => {
    const { rt } = await setup();
    const n1 = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: null,
      threadId: null,
      mode: 'shared',
    });
    const n2 = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: null,
      threadId: null,
      mode: 'shared',
    });
    const s = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    expect(n1.created).toBe(true);
    expect(n2).toMatchObject({ created: false, session: { id: n1.session.id, messagingGroupId: null } });
    expect(s.session.id).not.toBe(n1.session.id);
    const t1 = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: null,
      threadId: 'x',
      mode: 'per-thread',
    });
    const t2 = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: null,
      threadId: 'x',
      mode: 'per-thread',
    });
    expect(t2.session.id).toBe(t1.session.id);
    expect(t1.session.id).not.toBe(n1.session.id);
    await rt.close();
  });

  it('agent-shared: every messaging group converges on the anchor, never on the newest session', async () => {
    const { rt } = await setup();
    const anchor = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: 't',
      mode: 'agent-shared',
    });
    // Newer sessions of the same agent group in other modes must not steal the anchor.
    await rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-tg', threadId: null, mode: 'shared' });
    await rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-tg', threadId: 'z', mode: 'per-thread' });
    const fromTg = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-tg',
      threadId: null,
      mode: 'agent-shared',
    });
    const fromNull = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: null,
      threadId: null,
      mode: 'agent-shared',
    });
    expect(fromTg).toMatchObject({ created: false, session: { id: anchor.session.id } });
    expect(fromNull.session.id).toBe(anchor.session.id);
    expect(anchor.session.threadId).toBeNull();
    await rt.close();
  });

  it('never returns a closed session; the next resolution creates a new one', async () => {
    const { rt } = await setup();
    for (const mode of ['shared', 'per-thread', 'agent-shared'] as const) {
      const first = await rt.resolveSession({
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        threadId: 't',
        mode,
      });
      await rt.closeSession(first.session.id);
      const second = await rt.resolveSession({
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        threadId: 't',
        mode,
      });
      expect(second.created).toBe(true);
      expect(second.session.id).not.toBe(first.session.id);
      expect(rt.getSession(first.session.id)?.status).toBe('closed');
      const third = await rt.resolveSession({
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        threadId: 't',
        mode,
      });
      expect(third).toMatchObject({ created: false, session: { id: second.session.id } });
    }
    await rt.close();
  });

  it('refuses an unknown agent group and an unknown messaging group', async () => {
    const { rt } = await setup();
    await expect(
      rt.resolveSession({ agentGroupId: 'ag-nope', messagingGroupId: 'mg-slack', threadId: null, mode: 'shared' }),
    ).rejects.toMatchObject({ code: 'UNKNOWN_AGENT_GROUP' });
    await expect(
      rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-nope', threadId: null, mode: 'shared' }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(rt.listSessions()).toHaveLength(0);
    await rt.close();
  });

  it('creates the folder with both DBs; a vanished inbound.db is never recreated silently, repairSession rebuilds it', async () => {
    const dataDir = tmp();
    const { rt } = await testRuntime(dataDir);
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    const dir = rt.paths.sessionDir('ag-main', session.id);
    for (const f of ['inbound.db', 'outbound.db', 'inbox', 'outbox']) expect(existsSync(`${dir}/${f}`)).toBe(true);
    await rt.writeMessage(session.id, chat('m1', 'first'));
    const errors: string[] = [];
    rt.on('error', (e) => errors.push(e.error.message));
    rmSync(`${dir}/inbound.db`);
    const again = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    expect(again.session.id).toBe(session.id);
    await expect(rt.writeMessage(session.id, chat('m2', 'lost'))).rejects.toMatchObject({
      code: 'STORAGE',
      message: expect.stringContaining('inbound.db'),
    });
    expect(existsSync(`${dir}/inbound.db`)).toBe(false);
    expect(errors.some((m) => m.includes('inbound.db'))).toBe(true);
    await rt.repairSession(session.id);
    await expect(rt.writeMessage(session.id, chat('m3', 'repaired'))).resolves.toMatchObject({ seq: 2 });
    await rt.close();
  });

  it('emits session.created once per new session', async () => {
    const { rt } = await setup();
    const created: string[] = [];
    rt.on('session.created', (e) => created.push(e.session.id));
    const a = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    await rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-slack', threadId: null, mode: 'shared' });
    expect(created).toEqual([a.session.id]);
    await rt.close();
  });

  it('rejects resolution after close with RUNTIME_CLOSED', async () => {
    const { rt } = await setup();
    await rt.close();
    const error = await rt
      .resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-slack', threadId: null, mode: 'shared' })
      .catch((e: unknown) => e);
    expect(isRuntimeError(error, 'RUNTIME_CLOSED')).toBe(true);
  });
});
