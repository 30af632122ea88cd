import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChannelAdapter, OutboundDelivery } from '../../src/runtime/types.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();
const flush = () => new Promise((resolve) => setImmediate(resolve));

function recordingAdapter() {
  const delivered: OutboundDelivery[] = [];
  const adapter: ChannelAdapter = {
    async deliver(msg) {
      delivered.push(msg);
      return { platformMessageId: `p-${msg.messageId}` };
    },
  };
  return { delivered, adapter };
}

async function setup(options: Parameters<typeof testRuntime>[1] = {}) {
  const driver = fakeDriver();
  const { delivered, adapter } = recordingAdapter();
  const ctx = await testRuntime(tmp(), {
    driver,
    pollMs: 100,
    idleStopMs: 5000,
    channels: { slack: adapter },
    ...options,
  });
  const { session } = await ctx.rt.resolveSession({
    agentGroupId: 'ag-main',
    messagingGroupId: 'mg-slack',
    threadId: 'th',
    mode: 'per-thread',
  });
  const statuses: string[] = [];
  ctx.rt.on('container.status', (e) => statuses.push(`${e.from}>${e.to}`));
  return { ...ctx, driver, delivered, session, statuses };
}

describe('container status', () => {
  it('wakes on a trigger message, not on a context-only one, and writes session_routing first', async () => {
    const { rt, driver, session } = await setup();
    await rt.writeMessage(session.id, chat('m0', 'context', { trigger: 0 }));
    await flush();
    expect(driver.started).toHaveLength(0);
    await rt.writeMessage(session.id, chat('m1', 'wake up'));
    await new Promise<void>((resolve) => rt.once('container.status', () => resolve()));
    expect(driver.started).toHaveLength(1);
    const db = new Database(rt.paths.inboundDbPath('ag-main', session.id), { readonly: true });
    expect(db.prepare('SELECT channel_type, platform_id, thread_id FROM session_routing').all()).toEqual([
      { channel_type: 'slack', platform_id: 'C123', thread_id: 'th' },
    ]);
    db.close();
    await rt.close();
  });

  it('starts one container for any number of concurrent wake requests', async () => {
    const { rt, driver, session } = await setup();
    await Promise.all(Array.from({ length: 20 }, () => rt.wake(session.id)));
    expect(driver.started).toHaveLength(1);
    expect(rt.containerStatus(session.id)).not.toBe('stopped');
    await rt.wake(session.id);
    expect(driver.started).toHaveLength(1);
    await rt.close();
  });

  it('goes running -> idle when a poll finds no work, and idle -> stopped after idleStopMs', async () => {
    const { rt, clock, driver, session, statuses } = await setup();
    await rt.wake(session.id);
    await new Promise<void>((resolve) => rt.once('container.status', () => resolve()));
    expect(rt.containerStatus(session.id)).toBe('idle');
    clock.increment(4999);
    await flush();
    expect(rt.containerStatus(session.id)).toBe('idle');
    const stopped = new Promise<void>((resolve) => rt.once('container.status', () => resolve()));
    clock.increment(1);
    await stopped;
    expect(statuses).toEqual(['stopped>running', 'running>idle', 'idle>stopped']);
    expect(driver.started[0]?.stopReasons).toEqual(['idle timeout']);
    await rt.close();
  });

  it('goes back to stopped when the container exits, with the exit as the reason', async () => {
    const { rt, driver, session } = await setup();
    await rt.wake(session.id);
    const change = new Promise<{ to: string; reason: string }>((resolve) =>
      rt.on('container.status', (e) => e.to === 'stopped' && resolve(e)),
    );
    driver.started[0]!.exit({ code: null, signal: 'SIGKILL' });
    await expect(change).resolves.toMatchObject({ to: 'stopped', reason: 'exited on SIGKILL' });
    expect(rt.getSession(session.id)?.containerStatus).toBe('stopped');
    await rt.close();
  });

  it('mirrors the status to sessions.container_status and sets last_active on running', async () => {
    const { rt, session, clock } = await setup({ pollMs: 1_000_000 });
    clock.increment(60_000);
    await rt.wake(session.id);
    expect(rt.getSession(session.id)).toMatchObject({ containerStatus: 'running' });
    expect(rt.getSession(session.id)?.lastActive).toBe(new Date(clock.now()).toISOString());
    await rt.close();
  });

  it('rejects wake when the driver cannot start, leaving the session stopped', async () => {
    const { rt, session } = await setup({ driver: fakeDriver({ failStart: true }) });
    await expect(rt.wake(session.id)).rejects.toMatchObject({ name: 'RuntimeError' });
    expect(rt.containerStatus(session.id)).toBe('stopped');
    await expect(rt.writeMessage(session.id, chat('m1', 'still writable'))).resolves.toMatchObject({ seq: 2 });
    await rt.close();
  });

  it("with driver 'none' never starts a container", async () => {
    const { rt } = await testRuntime(tmp());
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: null,
      threadId: null,
      mode: 'shared',
    });
    await rt.writeMessage(session.id, chat('m1', 'hello'));
    await flush();
    expect(rt.containerStatus(session.id)).toBe('stopped');
    await expect(rt.wake(session.id)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await rt.close();
  });
});

describe('writeOutboundDirect', () => {
  const direct = (id: string) => ({
    id,
    kind: 'chat',
    platformId: 'C123',
    channelType: 'slack',
    threadId: 'th',
    content: '{"text":"from host"}',
  });

  it('while running: delivered, and outbound.db is not written by the host', async () => {
    const { rt, clock, session, delivered } = await setup({ pollMs: 100 });
    await rt.wake(session.id);
    const outbound = rt.paths.outboundDbPath('ag-main', session.id);
    const before = statSync(outbound);
    const done = new Promise((resolve) => rt.once('outbound.delivered', resolve));
    await rt.writeOutboundDirect(session.id, direct('h1'));
    clock.increment(100);
    await expect(done).resolves.toEqual({ sessionId: session.id, messageId: 'h1', platformMessageId: 'p-h1' });
    expect(delivered.map((d) => [d.messageId, d.content])).toEqual([['h1', { text: 'from host' }]]);
    const after = statSync(outbound);
    expect([after.mtimeMs, after.size, after.ino]).toEqual([before.mtimeMs, before.size, before.ino]);
    const db = new Database(outbound, { readonly: true });
    expect(db.prepare('SELECT COUNT(*) AS n FROM messages_out').get()).toEqual({ n: 0 });
    db.close();
    // Later polls find it recorded in `delivered`: never delivered twice.
    clock.increment(500);
    await flush();
    expect(delivered).toHaveLength(1);
    await rt.close();
  });

  it('while stopped: a messages_out row with the next odd seq over both tables, then delivered', async () => {
    const { rt, session, delivered } = await setup({ autoWake: false });
    await rt.writeMessage(session.id, chat('m1', 'a'));
    await rt.writeMessage(session.id, chat('m2', 'b'));
    const done = new Promise((resolve) => rt.once('outbound.delivered', resolve));
    await rt.writeOutboundDirect(session.id, direct('h1'));
    await done;
    const db = new Database(rt.paths.outboundDbPath('ag-main', session.id), { readonly: true });
    expect(db.prepare('SELECT id, seq FROM messages_out').all()).toEqual([{ id: 'h1', seq: 5 }]);
    db.close();
    expect(delivered.map((d) => d.messageId)).toEqual(['h1']);
    await rt.close();
  });
});
