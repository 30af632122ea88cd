/**
 * The sweep and the liveness checks, with a scripted container: the test plays the container's
 * side by writing `outbound.db` and `.heartbeat` itself.
 */
import Database from 'better-sqlite3';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fakeDriver } from '../helpers/fake-driver.js';
import { nextEvent } from '../helpers/events.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

async function setup(options: Parameters<typeof testRuntime>[1] = {}) {
  const driver = fakeDriver();
  const ctx = await testRuntime(tmp(), {
    driver,
    pollMs: 1000,
    claimSilenceMs: 60_000,
    retryBackoffMs: 5000,
    ...options,
  });
  const { session } = await ctx.rt.resolveSession({
    agentGroupId: 'ag-main',
    messagingGroupId: 'mg-slack',
    threadId: null,
    mode: 'shared',
  });
  const outbound = ctx.rt.paths.outboundDbPath('ag-main', session.id);
  const inbound = ctx.rt.paths.inboundDbPath('ag-main', session.id);
  /** Plays the container claiming a message. */
  const claim = (id: string) => {
    const db = new Database(outbound);
    db.prepare("INSERT OR REPLACE INTO processing_ack VALUES (?, 'processing', datetime('now'))").run(id);
    db.close();
  };
  const acks = () => {
    const db = new Database(outbound, { readonly: true });
    const rows = db.prepare('SELECT message_id, status FROM processing_ack').all();
    db.close();
    return rows;
  };
  const row = (id: string) => {
    const db = new Database(inbound, { readonly: true });
    const r = db.prepare('SELECT status, tries, process_after FROM messages_in WHERE id = ?').get(id);
    db.close();
    return r as { status: string; tries: number; process_after: string | null };
  };
  return { ...ctx, driver, session, claim, acks, row };
}

describe('sweep after a container stops', () => {
  it('puts claimed messages back to pending with tries+1 and a backoff, removes the orphan claims, then wakes again', async () => {
    const { rt, clock, driver, session, claim, acks, row } = await setup();
    const running = nextEvent(rt, 'container.status', (e) => e.to === 'running');
    await rt.writeMessage(session.id, chat('m1', 'work'));
    await running;
    claim('m1');
    const stopped = nextEvent(rt, 'container.status', (e) => e.to === 'stopped');
    driver.started[0]!.exit({ code: null, signal: 'SIGKILL' });
    await stopped;
    await expect.poll(() => row('m1').tries).toBe(1);
    expect(row('m1')).toMatchObject({ status: 'pending', process_after: new Date(clock.now() + 5000).toISOString() });
    expect(acks()).toEqual([]);
    // The retry is due after the backoff: the session wakes again then, not before.
    clock.increment(4999);
    await rt.whenIdle();
    expect(driver.started).toHaveLength(1);
    clock.increment(1);
    await nextEvent(rt, 'container.status', (e) => e.to === 'running');
    expect(driver.started).toHaveLength(2);
    await rt.close();
  });

  it('marks a message failed once it has used up maxTries', async () => {
    const { rt, clock, driver, session, claim, row } = await setup({ maxTries: 2, retryBackoffMs: 10 });
    await rt.writeMessage(session.id, chat('m1', 'poison'));
    for (let attempt = 0; attempt < 2; attempt++) {
      await expect.poll(() => driver.started.length).toBe(attempt + 1);
      await expect.poll(() => rt.containerStatus(session.id)).not.toBe('stopped');
      claim('m1');
      const stopped = nextEvent(rt, 'container.status', (e) => e.to === 'stopped');
      driver.started[attempt]!.exit({ code: 1, signal: null });
      await stopped;
      await expect.poll(() => row('m1').tries).toBe(attempt + 1);
      clock.increment(10);
    }
    expect(row('m1')).toMatchObject({ status: 'failed', tries: 2 });
    await rt.whenIdle();
    expect(driver.started).toHaveLength(2);
    await rt.close();
  });

  it('syncs completed and failed acks into messages_in.status', async () => {
    const { rt, clock, session, row } = await setup();
    const running = nextEvent(rt, 'container.status', (e) => e.to === 'running');
    await rt.writeMessage(session.id, chat('m1', 'a'));
    await rt.writeMessage(session.id, chat('m2', 'b'));
    await running;
    const db = new Database(rt.paths.outboundDbPath('ag-main', session.id));
    db.prepare(
      "INSERT INTO processing_ack VALUES ('m1', 'completed', datetime('now')), ('m2', 'failed', datetime('now'))",
    ).run();
    db.close();
    clock.increment(1000);
    await expect.poll(() => [row('m1').status, row('m2').status]).toEqual(['completed', 'failed']);
    await rt.close();
  });
});

describe('liveness', () => {
  it('removes a stale .heartbeat before a start', async () => {
    const { rt, session, driver } = await setup();
    const heartbeat = rt.paths.heartbeatPath('ag-main', session.id);
    writeFileSync(heartbeat, '');
    let seenAtStart: boolean | undefined;
    const start = driver.start.bind(driver);
    driver.start = async (ctx) => {
      seenAtStart = existsSync(ctx.heartbeatPath);
      return start(ctx);
    };
    await rt.wake(session.id);
    expect(seenAtStart).toBe(false);
    await rt.close();
  });

  it('kills a container that holds claimed work and whose heartbeat stops moving', async () => {
    const { rt, clock, session, claim, row, driver } = await setup({
      claimSilenceMs: 5000,
      heartbeatCeilingMs: 3_600_000,
    });
    const running = nextEvent(rt, 'container.status', (e) => e.to === 'running');
    await rt.writeMessage(session.id, chat('m1', 'stuck'));
    await running;
    const heartbeat = rt.paths.heartbeatPath('ag-main', session.id);
    writeFileSync(heartbeat, '');
    claim('m1');
    const stopped = nextEvent(rt, 'container.status', (e) => e.to === 'stopped');
    for (let i = 0; i < 8; i++) {
      clock.increment(1000);
      await rt.whenIdle();
    }
    await expect(stopped).resolves.toMatchObject({ reason: expect.stringContaining('stuck') });
    expect(driver.started[0]!.stopReasons[0]).toMatch(/holding claimed work/);
    await expect.poll(() => row('m1').tries).toBe(1);
    await rt.close();
  });

  it('leaves a container alone while its heartbeat keeps moving', async () => {
    const { rt, clock, session, claim } = await setup({ claimSilenceMs: 5000 });
    const running = nextEvent(rt, 'container.status', (e) => e.to === 'running');
    await rt.writeMessage(session.id, chat('m1', 'slow but alive'));
    await running;
    const heartbeat = rt.paths.heartbeatPath('ag-main', session.id);
    writeFileSync(heartbeat, '');
    claim('m1');
    for (let i = 0; i < 10; i++) {
      const t = new Date(Date.now() + i * 1000);
      utimesSync(heartbeat, t, t);
      clock.increment(1000);
      await rt.whenIdle();
    }
    expect(rt.containerStatus(session.id)).toBe('running');
    await rt.close();
  });
});
