import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('session actor lifecycle', () => {
  it('passivates a stopped, quiet actor after passivateMs and re-activates it on demand', async () => {
    const { rt, clock } = await testRuntime(tmp(), { passivateMs: 1000 });
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    await rt.writeMessage(session.id, chat('m1', 'one'));
    expect(rt.stats().liveSessions).toBe(1);
    clock.increment(999);
    await flush();
    expect(rt.stats().liveSessions).toBe(1);
    clock.increment(1);
    await flush();
    expect(rt.stats().liveSessions).toBe(0);
    // Re-activated from disk: the seq continues where the file left off.
    await expect(rt.writeMessage(session.id, chat('m2', 'two'))).resolves.toEqual({ seq: 4, duplicate: false });
    await expect(rt.writeMessage(session.id, chat('m1', 'one'))).resolves.toEqual({ seq: 2, duplicate: true });
    expect(rt.stats().liveSessions).toBe(1);
    await rt.close();
  });

  it('does not passivate while a container runs', async () => {
    const driver = fakeDriver();
    const { rt, clock } = await testRuntime(tmp(), { passivateMs: 1000, driver, pollMs: 1_000_000 });
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    const idle = new Promise<void>((resolve) =>
      rt.on('container.status', (e) => {
        if (e.sessionId === session.id && e.to === 'idle') resolve();
      }),
    );
    await rt.wake(session.id);
    // The first poll finds no work, so the live container goes idle.
    await idle;
    clock.increment(5000);
    await flush();
    // Idle, with passivateMs long past: still live, because a container runs.
    expect(rt.stats().liveSessions).toBe(1);
    expect(rt.containerStatus(session.id)).toBe('idle');
    await rt.stop(session.id);
    // The stop queues a sweep of the container's claims; a later mailbox op settles after it.
    await rt.writeSessionRouting(session.id);
    clock.increment(1000);
    await flush();
    expect(rt.stats().liveSessions).toBe(0);
    expect(rt.containerStatus(session.id)).toBe('stopped');
    await rt.close();
  });

  it('reconciles sessions left running by a previous process to stopped, saying why', async () => {
    const dataDir = tmp();
    const first = await testRuntime(dataDir);
    const { session } = await first.rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    const idle = await first.rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: null,
      threadId: null,
      mode: 'shared',
    });
    await first.rt.close();
    const central = new Database(`${dataDir}/v2.db`);
    central.prepare("UPDATE sessions SET container_status = 'running' WHERE id = ?").run(session.id);
    central.prepare("UPDATE sessions SET container_status = 'idle' WHERE id = ?").run(idle.session.id);
    central.close();

    const second = await testRuntime(dataDir);
    const events: { sessionId: string; from: string; to: string; reason: string }[] = [];
    second.rt.on('container.status', (e) => events.push(e));
    await flush();
    expect(events).toEqual([
      { sessionId: session.id, from: 'running', to: 'stopped', reason: expect.stringContaining('reconciled') },
      { sessionId: idle.session.id, from: 'idle', to: 'stopped', reason: expect.stringContaining('reconciled') },
    ]);
    expect(second.rt.getSession(session.id)?.containerStatus).toBe('stopped');
    expect(second.rt.containerStatus(idle.session.id)).toBe('stopped');
    await second.rt.close();
  });

  it('rejects every call after close with RUNTIME_CLOSED', async () => {
    const { rt } = await testRuntime(tmp());
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    const pending = rt.writeMessage(session.id, chat('m1', 'before close'));
    await rt.close();
    await expect(pending).resolves.toEqual({ seq: 2, duplicate: false });
    await expect(rt.writeMessage(session.id, chat('m2', 'x'))).rejects.toMatchObject({ code: 'RUNTIME_CLOSED' });
    await expect(rt.upsertAgentGroup({ id: 'x', name: 'x' })).rejects.toMatchObject({ code: 'RUNTIME_CLOSED' });
    await expect(rt.wake(session.id)).rejects.toMatchObject({ code: 'RUNTIME_CLOSED' });
  });

  it('closeSession stops the container, marks the session closed and refuses later writes', async () => {
    const driver = fakeDriver();
    const { rt } = await testRuntime(tmp(), { driver, pollMs: 1_000_000 });
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    await rt.wake(session.id);
    const closed: string[] = [];
    rt.on('session.closed', (e) => closed.push(e.sessionId));
    await rt.closeSession(session.id);
    expect(driver.started[0]?.exited).toBe(true);
    expect(closed).toEqual([session.id]);
    expect(rt.getSession(session.id)).toMatchObject({ status: 'closed', containerStatus: 'stopped' });
    await expect(rt.writeMessage(session.id, chat('m1', 'x'))).rejects.toMatchObject({ code: 'SESSION_CLOSED' });
    await expect(rt.wake(session.id)).rejects.toMatchObject({ code: 'SESSION_CLOSED' });
    await rt.close();
  });
});
