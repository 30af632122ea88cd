/**
 * Nothing is stranded (issue 10 item 5): a reply written just before the container exits is
 * delivered by the poll that follows the exit; after a restart, sessions with unsettled outbound
 * rows or due pending messages are found from the central bookkeeping (`session_work`) — never by
 * opening every session — and delivered or woken; the periodic sweep (`sweepMs`) catches a row
 * nothing else would have polled. The test plays the containers (a scripted driver; rows written
 * to `outbound.db` with better-sqlite3).
 *
 * Before this, outbound rows were polled only while a container ran: a reply written just before
 * the exit waited for the next wake, and so did anything left over by a previous process.
 */
import Database from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ContainerDriver } from '../../src/container/driver.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import type { ChannelAdapter } from '../../src/runtime/types.js';
import { insertOutbound, maxSeq, nextOddAbove, withOutbound, withReadOnly } from '../../src/testing/container-files.js';
import { recordingChannels, TestClock } from '../../src/testing/index.js';
import { fakeDriver, type FakeContainer } from '../helpers/fake-driver.js';
import { T0 } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

/** Ids unique across the runtimes of one test (each restart starts a new sequence otherwise). */
function ids(tag: string) {
  let n = 0;
  return { next: (prefix: string) => `${prefix}-${tag}-${++n}` };
}

async function open(
  dataDir: string,
  options: { at?: number; tag: string; channels: Record<string, ChannelAdapter>; driver?: ContainerDriver } & Record<
    string,
    unknown
  >,
) {
  const { at = T0, tag, channels, driver = fakeDriver(), ...rest } = options;
  const clock = new TestClock(at);
  const rt = await createRuntime({ dataDir, clock, driver, channels, ids: ids(tag), pollMs: 60_000, ...rest });
  const errors: Error[] = [];
  rt.on('error', (e) => errors.push(e.error));
  return { rt, clock, errors };
}

async function groups(rt: Runtime) {
  await rt.upsertAgentGroup({ id: 'ag', name: 'Agent' });
  await rt.upsertMessagingGroup({ id: 'mg-slack', channelType: 'slack', platformId: 'C1' });
  await rt.upsertMessagingGroup({ id: 'mg-flaky', channelType: 'flaky', platformId: 'F1' });
}

const resolve = (rt: Runtime, messagingGroupId: string, threadId: string) =>
  rt.resolveSession({ agentGroupId: 'ag', messagingGroupId, threadId, mode: 'per-thread' }).then((r) => r.session.id);

/** Plays the container of `sessionId`: one reply row to (channelType, platformId). */
function reply(
  rt: Runtime,
  sessionId: string,
  id: string,
  address: { channelType: string; platformId: string },
  deliverAfter: string | null = null,
) {
  const maxIn = withReadOnly(rt.paths.inboundDbPath('ag', sessionId), (db) => maxSeq(db, 'messages_in'));
  withOutbound(rt.paths.outboundDbPath('ag', sessionId), (db) =>
    insertOutbound(
      db,
      {
        id,
        inReplyTo: null,
        kind: 'chat',
        content: JSON.stringify({ text: id }),
        deliverAfter,
        channel_type: address.channelType,
        platform_id: address.platformId,
        thread_id: null,
      },
      nextOddAbove(Math.max(maxIn, maxSeq(db, 'messages_out'))),
      '2026-01-01 00:00:00',
    ),
  );
}

function claim(rt: Runtime, sessionId: string, messageId: string) {
  withOutbound(rt.paths.outboundDbPath('ag', sessionId), (db) =>
    db
      .prepare("INSERT INTO processing_ack (message_id, status, status_changed) VALUES (?, 'processing', ?)")
      .run(messageId, '2026-01-01 00:00:00'),
  );
}

/**
 * Moves session folders out of reach (out of v2-sessions/, where a folder without a central row
 * would be start-up's to clean up); returns their restoration.
 */
function outOfReach(dataDir: string, rt: Runtime, sessionIds: string[]): { folders: string[]; restore(): void } {
  const folders = sessionIds.map((id) => rt.paths.sessionDir('ag', id));
  const away = (i: number) => join(dataDir, `away-${i}`);
  folders.forEach((f, i) => renameSync(f, away(i)));
  return { folders, restore: () => folders.forEach((f, i) => renameSync(away(i), f)) };
}

describe('a reply written just before the container exits', () => {
  it('is delivered by the poll that follows the exit, with no clock step and no call', async () => {
    const channels = recordingChannels();
    const driver = fakeDriver();
    const { rt } = await open(tmp(), { tag: 'a', channels: channels.adapters, driver });
    try {
      await groups(rt);
      const session = await resolve(rt, 'mg-slack', 't');
      await rt.wake(session);
      await rt.whenIdle();
      reply(rt, session, 'last-words', { channelType: 'slack', platformId: 'C1' });
      driver.started[0]!.exit({ code: 0, signal: null });
      await rt.whenIdle();
      expect(rt.containerStatus(session)).toBe('stopped');
      expect(channels.delivered.map((d) => d.messageId)).toEqual(['last-words']);
    } finally {
      await rt.close();
    }
  });
});

describe('a message the container did not claim before it exited', () => {
  it('wakes the session again after the retry backoff, with no call', async () => {
    // The sweep after an exit counted only messages due later, so a message written while the
    // container was on its way out (no wake: it was still running) waited for the next write.
    const driver = fakeDriver();
    const { rt, clock } = await open(tmp(), {
      tag: 'a',
      channels: recordingChannels().adapters,
      driver,
      pollMs: 60_000,
      retryBackoffMs: 5000,
    });
    try {
      await groups(rt);
      const session = await resolve(rt, 'mg-slack', 't');
      await rt.wake(session);
      await rt.writeMessage(session, {
        id: 'late',
        kind: 'chat',
        timestamp: new Date(T0).toISOString(),
        content: '{"text":"are you there?"}',
      });
      expect(driver.started).toHaveLength(1);
      driver.started[0]!.exit({ code: 0, signal: null });
      await rt.whenIdle();
      // Not at once: a container that dies before claiming anything is not restarted in a loop.
      clock.set(T0 + 4999);
      await rt.whenIdle();
      expect(driver.started).toHaveLength(1);
      clock.set(T0 + 5000);
      await rt.whenIdle();
      expect(driver.started).toHaveLength(2);
      expect(rt.containerStatus(session)).toBe('running');
    } finally {
      await rt.close();
    }
  });
});

describe('a container that dies before it claims anything', () => {
  it('is restarted at most once per retry backoff, and never given up on', async () => {
    const driver = fakeDriver();
    const starts: number[] = [];
    const start = driver.start.bind(driver);
    driver.start = async (ctx) => {
      const c = (await start(ctx)) as FakeContainer;
      starts.push(clock.now());
      setImmediate(() => c.exit({ code: 1, signal: null }));
      return c;
    };
    const { rt, clock } = await open(tmp(), {
      tag: 'a',
      channels: recordingChannels().adapters,
      driver,
      retryBackoffMs: 5000,
    });
    try {
      await groups(rt);
      const session = await resolve(rt, 'mg-slack', 't');
      await rt.writeMessage(session, {
        id: 'doomed',
        kind: 'chat',
        timestamp: new Date(T0).toISOString(),
        content: '{}',
      });
      for (let t = 0; t <= 60_000; t += 500) {
        clock.set(T0 + t);
        await rt.whenIdle();
      }
      const gaps = starts.slice(1).map((at, i) => at - starts[i]!);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(5000);
      expect(starts.length).toBeGreaterThanOrEqual(10);
    } finally {
      await rt.close();
    }
  });
});

describe('a host-originated message', () => {
  it('is marked unsettled in the central DB by the time writeOutboundDirect resolves', async () => {
    // The mark was written on a later event-loop turn: a crash right after the acknowledgement
    // left a row in outbound.db that no start-up would look for.
    const dataDir = tmp();
    const stuck: ChannelAdapter = { deliver: () => new Promise(() => undefined) };
    const { rt } = await open(dataDir, { tag: 'a', channels: { slack: stuck } });
    try {
      await groups(rt);
      const session = await resolve(rt, 'mg-slack', 't');
      await rt.writeOutboundDirect(session, {
        id: 'notice',
        kind: 'chat',
        channelType: 'slack',
        platformId: 'C1',
        threadId: null,
        content: '{}',
      });
      const central = new Database(join(dataDir, 'v2.db'), { readonly: true });
      try {
        expect(central.prepare('SELECT session_id, outbound_open FROM session_work').all()).toEqual([
          { session_id: session, outbound_open: 1 },
        ]);
      } finally {
        central.close();
      }
    } finally {
      await rt.close();
    }
  });
});

describe('after a restart', () => {
  /**
   * Runtime A: `quiet` sessions whose containers replied and were delivered, plus one more session
   * prepared by `strand`. A is closed; the quiet sessions' folders are out of reach while runtime
   * B starts, so any attempt to open them fails or recreates them.
   */
  async function restart(
    strand: (a: { rt: Runtime; session: string; driver: ReturnType<typeof fakeDriver> }) => Promise<void>,
  ) {
    const dataDir = tmp();
    const before = recordingChannels();
    before.channel('flaky').failNext(1000);
    const driverA = fakeDriver();
    const a = await open(dataDir, {
      tag: 'a',
      channels: before.adapters,
      driver: driverA,
      deliveryBackoffMs: 3_600_000,
      retryBackoffMs: 5000,
    });
    await groups(a.rt);
    const quiet: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = await resolve(a.rt, 'mg-slack', `quiet-${i}`);
      quiet.push(id);
      if (i % 2 === 1) continue; // half of them never ran a container
      await a.rt.wake(id);
      reply(a.rt, id, `hello-${i}`, { channelType: 'slack', platformId: 'C1' });
      await a.rt.stop(id);
    }
    await a.rt.whenIdle();
    expect(before.delivered).toHaveLength(6);
    const session = await resolve(a.rt, 'mg-flaky', 'stranded');
    await strand({ rt: a.rt, session, driver: driverA });
    // Not whenIdle: a delivery waiting an hour for its next attempt is work in flight.
    await a.rt.close();
    expect(a.errors).toEqual([]);
    return { dataDir, session, quiet, rtA: a.rt };
  }

  it('a session whose outbound rows were left unsettled is delivered, found without opening the other sessions', async () => {
    const { dataDir, session, quiet, rtA } = await restart(async ({ rt, session }) => {
      // The channel was down when the process stopped: the reply is not settled.
      await rt.wake(session);
      reply(rt, session, 'pending-reply', { channelType: 'flaky', platformId: 'F1' });
      await rt.stop(session);
    });
    const away = outOfReach(dataDir, rtA, quiet);
    const after = recordingChannels();
    const b = await open(dataDir, { at: T0 + 1000, tag: 'b', channels: after.adapters });
    try {
      await b.rt.whenIdle();
      expect(after.delivered.map((d) => [d.messageId, d.channelType])).toEqual([['pending-reply', 'flaky']]);
      expect(b.errors).toEqual([]);
      for (const f of away.folders) expect(existsSync(f)).toBe(false);
    } finally {
      away.restore();
      await b.rt.close();
    }
    const db = new Database(rtA.paths.inboundDbPath('ag', session), { readonly: true });
    expect(db.prepare('SELECT message_out_id, status FROM delivered').all()).toEqual([
      { message_out_id: 'pending-reply', status: 'delivered' },
    ]);
    db.close();
  });

  it('a session with a due pending message is woken, found without opening the other sessions', async () => {
    const { dataDir, session, quiet, rtA } = await restart(async ({ rt, session, driver }) => {
      // The container died holding a claim: the message is put back, due again in 5 s.
      await rt.writeMessage(session, {
        id: 'work',
        kind: 'chat',
        timestamp: new Date(T0).toISOString(),
        content: '{"text":"work"}',
      });
      await rt.whenIdle();
      claim(rt, session, 'work');
      driver.started.at(-1)!.exit({ code: 1, signal: null });
    });
    const away = outOfReach(dataDir, rtA, quiet);
    const driver = fakeDriver();
    const b = await open(dataDir, { at: T0 + 60_000, tag: 'b', channels: recordingChannels().adapters, driver });
    try {
      // The wake was armed at start-up, due now: a simulated clock fires it when told to.
      b.clock.fireDue();
      await b.rt.whenIdle();
      expect(driver.started.map((c) => c.ctx.sessionId)).toEqual([session]);
      expect(b.errors).toEqual([]);
      for (const f of away.folders) expect(existsSync(f)).toBe(false);
    } finally {
      away.restore();
      await b.rt.close();
    }
  });
});

describe('the periodic sweep', () => {
  it('delivers a row nothing else polls: due only after its container exited', async () => {
    const channels = recordingChannels();
    const driver = fakeDriver();
    const { rt, clock } = await open(tmp(), {
      tag: 'a',
      channels: channels.adapters,
      driver,
      pollMs: 1000,
      sweepMs: 30_000,
    });
    try {
      await groups(rt);
      const session = await resolve(rt, 'mg-slack', 't');
      await rt.wake(session);
      reply(rt, session, 'later', { channelType: 'slack', platformId: 'C1' }, new Date(T0 + 10_000).toISOString());
      driver.started[0]!.exit({ code: 0, signal: null });
      await rt.whenIdle();
      expect(rt.containerStatus(session)).toBe('stopped');
      // Due at 10 s, but no container runs to be polled: the sweep at 30 s finds it.
      for (let t = 1000; t <= 29_000; t += 1000) {
        clock.set(T0 + t);
        await rt.whenIdle();
      }
      expect(channels.delivered).toEqual([]);
      clock.set(T0 + 30_000);
      await rt.whenIdle();
      expect(channels.delivered.map((d) => d.messageId)).toEqual(['later']);
      expect(driver.started).toHaveLength(1);
    } finally {
      await rt.close();
    }
  });
});
