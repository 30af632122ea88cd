/**
 * The session actor's life: passivation, start-up reconciliation and the end of a session or of
 * the runtime, with the test kit (simulated clock, fake container, restarts with `reopen`).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime, type TestRuntimeOptions } from '../../src/testing/index.js';

const opened: TestRuntime[] = [];
afterEach(async () => {
  for (const t of opened.splice(0)) await t.close();
});

/** A test runtime with one agent group and one Slack messaging group. */
async function setup(options: TestRuntimeOptions = {}) {
  const t = await createTestRuntime(options);
  opened.push(t);
  await t.runtime.upsertAgentGroup({ id: 'ag', name: 'Agent' });
  await t.runtime.upsertMessagingGroup({ id: 'mg', channelType: 'slack', platformId: 'C1' });
  return t;
}

const shared = (t: TestRuntime, messagingGroupId: string | null = 'mg') =>
  t.runtime
    .resolveSession({ agentGroupId: 'ag', messagingGroupId, threadId: null, mode: 'shared' })
    .then((r) => r.session.id);

describe('session actor lifecycle', () => {
  it('passivates a stopped, quiet actor after passivateMs and re-activates it on demand', async () => {
    const t = await setup({ passivateMs: 1000, driver: 'none' });
    const id = await shared(t);
    await t.runtime.writeMessage(id, t.chat('m1', 'one'));
    expect(t.runtime.stats().liveSessions).toBe(1);
    await t.clock.advance(999);
    expect(t.runtime.stats().liveSessions).toBe(1);
    await t.clock.advance(1);
    expect(t.runtime.stats().liveSessions).toBe(0);
    // Re-activated from disk: the seq continues where the file left off.
    await expect(t.runtime.writeMessage(id, t.chat('m2', 'two'))).resolves.toEqual({ seq: 4, duplicate: false });
    await expect(t.runtime.writeMessage(id, t.chat('m1', 'one'))).resolves.toEqual({ seq: 2, duplicate: true });
    expect(t.runtime.stats().liveSessions).toBe(1);
  });

  it('does not passivate while a container runs', async () => {
    const t = await setup({ passivateMs: 1000, pollMs: 1_000_000 });
    const id = await shared(t);
    await t.runtime.wake(id);
    await t.settle();
    // The first poll found no work, so the live container went idle.
    expect(t.runtime.containerStatus(id)).toBe('idle');
    await t.clock.advance(5000);
    // Idle, with passivateMs long past: still live, because a container runs.
    expect(t.runtime.stats().liveSessions).toBe(1);
    expect(t.runtime.containerStatus(id)).toBe('idle');
    await t.runtime.stop(id);
    await t.clock.advance(1000);
    expect(t.runtime.stats().liveSessions).toBe(0);
    expect(t.runtime.containerStatus(id)).toBe('stopped');
  });

  it('reconciles sessions left running by a previous process to stopped, saying why', async () => {
    const first = await setup({ driver: 'none' });
    const running = await shared(first);
    const idle = await shared(first, null);
    await first.runtime.close();
    const central = new Database(join(first.dataDir, 'v2.db'));
    central.prepare("UPDATE sessions SET container_status = 'running' WHERE id = ?").run(running);
    central.prepare("UPDATE sessions SET container_status = 'idle' WHERE id = ?").run(idle);
    central.close();

    const second = await first.reopen();
    opened.push(second);
    const events = second.record('container.status');
    await second.settle();
    expect(events).toEqual([
      { sessionId: running, from: 'running', to: 'stopped', reason: expect.stringContaining('reconciled') },
      { sessionId: idle, from: 'idle', to: 'stopped', reason: expect.stringContaining('reconciled') },
    ]);
    expect(second.runtime.getSession(running)?.containerStatus).toBe('stopped');
    expect(second.runtime.containerStatus(idle)).toBe('stopped');
  });

  it('rejects every call after close with RUNTIME_CLOSED', async () => {
    const t = await setup({ driver: 'none' });
    const id = await shared(t);
    const pending = t.runtime.writeMessage(id, t.chat('m1', 'before close'));
    await t.runtime.close();
    await expect(pending).resolves.toEqual({ seq: 2, duplicate: false });
    await expect(t.runtime.writeMessage(id, t.chat('m2', 'x'))).rejects.toMatchObject({ code: 'RUNTIME_CLOSED' });
    await expect(t.runtime.upsertAgentGroup({ id: 'x', name: 'x' })).rejects.toMatchObject({
      code: 'RUNTIME_CLOSED',
    });
    await expect(t.runtime.wake(id)).rejects.toMatchObject({ code: 'RUNTIME_CLOSED' });
  });

  it('closeSession stops the container, marks the session closed and refuses later writes', async () => {
    const t = await setup({ pollMs: 1_000_000 });
    const id = await shared(t);
    await t.runtime.wake(id);
    const closed = t.record('session.closed');
    await t.runtime.closeSession(id);
    expect(t.driver.containers[0]!.state).toBe('exited');
    expect(closed).toEqual([{ sessionId: id }]);
    expect(t.runtime.getSession(id)).toMatchObject({ status: 'closed', containerStatus: 'stopped' });
    await expect(t.runtime.writeMessage(id, t.chat('m1', 'x'))).rejects.toMatchObject({ code: 'SESSION_CLOSED' });
    await expect(t.runtime.wake(id)).rejects.toMatchObject({ code: 'SESSION_CLOSED' });
  });
});
