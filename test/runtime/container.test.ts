/**
 * Container status and host-originated messages, with the test kit: its fake container answers
 * through the session folder and its recording channels keep what was delivered.
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime, type TestRuntimeOptions } from '../../src/testing/index.js';
import { oneSession } from '../helpers/one-session.js';

let t: TestRuntime | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

function query<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** A per-thread Slack session (thread `th`); the host polls every 100 ms and stops idle containers after 5 s. */
async function setup(options: TestRuntimeOptions = {}) {
  t = await createTestRuntime({ pollMs: 100, idleStopMs: 5000, ...options });
  const session = await oneSession(t.runtime, {
    channelType: 'slack',
    platformId: 'C1',
    threadId: 'th',
    mode: 'per-thread',
  });
  return { t, id: session.id, statuses: t.record('container.status') };
}

describe('container status', () => {
  it('wakes on a trigger message, not on a context-only one, and writes session_routing first', async () => {
    const { t, id } = await setup();
    await t.runtime.writeMessage(id, t.chat('m0', 'context', { trigger: 0 }));
    await t.settle();
    expect(t.driver.containers).toHaveLength(0);
    // What the container finds as it starts.
    const routingAtStart: unknown[] = [];
    t.driver.setOnStart((c) =>
      routingAtStart.push(
        query(c.ctx.inboundDbPath, 'SELECT channel_type, platform_id, thread_id FROM session_routing'),
      ),
    );
    await t.runtime.writeMessage(id, t.chat('m1', 'wake up'));
    await t.settle();
    expect(t.driver.containers).toHaveLength(1);
    expect(routingAtStart).toEqual([[{ channel_type: 'slack', platform_id: 'C1', thread_id: 'th' }]]);
  });

  it('starts one container for any number of concurrent wake requests', async () => {
    const { t, id } = await setup();
    await Promise.all(Array.from({ length: 20 }, () => t.runtime.wake(id)));
    expect(t.driver.containers).toHaveLength(1);
    expect(t.runtime.containerStatus(id)).not.toBe('stopped');
    await t.runtime.wake(id);
    expect(t.driver.containers).toHaveLength(1);
  });

  it('goes running -> idle when a poll finds no work, and idle -> stopped after idleStopMs', async () => {
    const { t, id, statuses } = await setup();
    await t.runtime.wake(id);
    await t.settle();
    expect(t.runtime.containerStatus(id)).toBe('idle');
    await t.clock.advance(4999);
    expect(t.runtime.containerStatus(id)).toBe('idle');
    await t.clock.advance(1);
    expect(statuses.map((e) => `${e.from}>${e.to}`)).toEqual(['stopped>running', 'running>idle', 'idle>stopped']);
    expect(t.driver.containers[0]!.stopReasons).toEqual(['idle timeout']);
  });

  it('goes back to stopped when the container exits, with the exit as the reason', async () => {
    const { t, id, statuses } = await setup();
    await t.runtime.wake(id);
    t.driver.running(id)!.kill('SIGKILL');
    await t.settle();
    expect(statuses.at(-1)).toMatchObject({ to: 'stopped', reason: 'exited on SIGKILL' });
    expect(t.runtime.getSession(id)?.containerStatus).toBe('stopped');
  });

  it('mirrors the status to sessions.container_status and sets last_active on running', async () => {
    const { t, id } = await setup({ pollMs: 1_000_000 });
    await t.clock.advance(60_000);
    await t.runtime.wake(id);
    expect(t.runtime.getSession(id)).toMatchObject({ containerStatus: 'running' });
    expect(t.runtime.getSession(id)?.lastActive).toBe(new Date(t.clock.now()).toISOString());
  });

  it('rejects wake when the driver cannot start, leaving the session stopped', async () => {
    const { t, id } = await setup();
    t.driver.setFailStart(new Error('no container for you'));
    await expect(t.runtime.wake(id)).rejects.toMatchObject({ name: 'RuntimeError' });
    expect(t.runtime.containerStatus(id)).toBe('stopped');
    await expect(t.runtime.writeMessage(id, t.chat('m1', 'still writable'))).resolves.toMatchObject({ seq: 2 });
    expect(t.driver.containers).toEqual([]);
  });

  it("with driver 'none' never starts a container", async () => {
    const { t, id } = await setup({ driver: 'none' });
    await t.runtime.writeMessage(id, t.chat('m1', 'hello'));
    await t.settle();
    expect(t.runtime.containerStatus(id)).toBe('stopped');
    await expect(t.runtime.wake(id)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('writeOutboundDirect', () => {
  const direct = (id: string) => ({
    id,
    kind: 'chat',
    platformId: 'C1',
    channelType: 'slack',
    threadId: 'th',
    content: '{"text":"from host"}',
  });

  it('while running: delivered, and outbound.db is not written by the host', async () => {
    const { t, id } = await setup();
    const delivered = t.record('outbound.delivered');
    await t.runtime.wake(id);
    const outbound = t.runtime.paths.outboundDbPath('ag', id);
    const before = statSync(outbound);
    await t.runtime.writeOutboundDirect(id, direct('h1'));
    await t.clock.advance(100);
    expect(delivered).toEqual([{ sessionId: id, messageId: 'h1', platformMessageId: 'slack-1' }]);
    expect(t.channels.delivered.map((d) => [d.messageId, d.content])).toEqual([['h1', { text: 'from host' }]]);
    const after = statSync(outbound);
    expect([after.mtimeMs, after.size, after.ino]).toEqual([before.mtimeMs, before.size, before.ino]);
    expect(query(outbound, 'SELECT COUNT(*) AS n FROM messages_out')).toEqual([{ n: 0 }]);
    // Later polls find it recorded in `delivered`: never delivered twice.
    await t.clock.advance(500);
    expect(t.channels.delivered).toHaveLength(1);
  });

  it('while stopped: a messages_out row with the next odd seq over both tables, then delivered', async () => {
    const { t, id } = await setup({ autoWake: false });
    await t.runtime.writeMessage(id, t.chat('m1', 'a'));
    await t.runtime.writeMessage(id, t.chat('m2', 'b'));
    await t.runtime.writeOutboundDirect(id, direct('h1'));
    await t.settle();
    expect(query(t.runtime.paths.outboundDbPath('ag', id), 'SELECT id, seq FROM messages_out')).toEqual([
      { id: 'h1', seq: 5 },
    ]);
    expect(t.channels.delivered.map((d) => d.messageId)).toEqual(['h1']);
    expect(t.driver.containers).toEqual([]);
  });
});
