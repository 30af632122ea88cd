/**
 * Nothing is stranded (issue 10 item 5): a reply written just before the container exits is
 * delivered by the poll that follows the exit; after a restart, sessions with unsettled outbound
 * rows or due pending messages are found from the central bookkeeping (`session_work`) — never by
 * opening every session — and delivered or woken; the periodic sweep (`sweepMs`) catches a row
 * nothing else would have polled. The test kit's fake containers write the rows; a restart is
 * `reopen()` on the same data directory.
 *
 * Before this, outbound rows were polled only while a container ran: a reply written just before
 * the exit waited for the next wake, and so did anything left over by a previous process.
 */
import Database from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelAdapter } from '../../src/runtime/types.js';
import {
  createTestRuntime,
  TEST_START,
  turn,
  type FakeContainer,
  type TestRuntime,
  type TestRuntimeOptions,
} from '../../src/testing/index.js';

const opened: TestRuntime[] = [];
afterEach(async () => {
  for (const t of opened.splice(0)) await t.close();
});

/** A test runtime (the host polls every minute) with one agent group, a Slack and a `flaky` messaging group. */
async function setup(options: TestRuntimeOptions = {}) {
  const t = await createTestRuntime({ pollMs: 60_000, ...options });
  opened.push(t);
  await t.runtime.upsertAgentGroup({ id: 'ag', name: 'Agent' });
  await t.runtime.upsertMessagingGroup({ id: 'mg-slack', channelType: 'slack', platformId: 'C1' });
  await t.runtime.upsertMessagingGroup({ id: 'mg-flaky', channelType: 'flaky', platformId: 'F1' });
  return t;
}

const resolve = (t: TestRuntime, messagingGroupId: string, threadId: string) =>
  t.runtime
    .resolveSession({ agentGroupId: 'ag', messagingGroupId, threadId, mode: 'per-thread' })
    .then((r) => r.session.id);

/** The container writes one message of its own, named `id`, to (channelType, platformId). */
function reply(
  container: FakeContainer,
  id: string,
  address: { channelType: string; platformId: string },
  deliverAfter?: string,
) {
  container.send({
    id,
    content: { text: id },
    deliverAfter,
    address: { channel_type: address.channelType, platform_id: address.platformId, thread_id: null },
  });
}

const slack = { channelType: 'slack', platformId: 'C1' };

/**
 * Moves session folders out of reach (out of v2-sessions/, where a folder without a central row
 * would be start-up's to clean up); returns their restoration.
 */
function outOfReach(t: TestRuntime, sessionIds: string[]): { folders: string[]; restore(): void } {
  const folders = sessionIds.map((id) => t.runtime.paths.sessionDir('ag', id));
  const away = (i: number) => join(t.dataDir, `away-${i}`);
  folders.forEach((f, i) => renameSync(f, away(i)));
  return { folders, restore: () => folders.forEach((f, i) => renameSync(away(i), f)) };
}

describe('a reply written just before the container exits', () => {
  it('is delivered by the poll that follows the exit, with no clock step and no call', async () => {
    const t = await setup();
    const session = await resolve(t, 'mg-slack', 't');
    await t.runtime.wake(session);
    await t.settle();
    const container = t.driver.running(session)!;
    reply(container, 'last-words', slack);
    // The host hears of the exit before anything else: only the poll after the exit can deliver.
    container.exitNow(0, { reportNow: true });
    await t.settle();
    expect(t.runtime.containerStatus(session)).toBe('stopped');
    expect(t.channels.delivered.map((d) => d.messageId)).toEqual(['last-words']);
  });
});

describe('a message the container did not claim before it exited', () => {
  it('wakes the session again after the retry backoff, with no call', async () => {
    // The sweep after an exit counted only messages due later, so a message written while the
    // container was on its way out (no wake: it was still running) waited for the next write.
    const t = await setup({ retryBackoffMs: 5000, agentPollMs: 3_600_000 });
    const session = await resolve(t, 'mg-slack', 't');
    await t.runtime.wake(session);
    await t.runtime.writeMessage(session, t.chat('late', 'are you there?'));
    expect(t.driver.containers).toHaveLength(1);
    // It exits before its next poll, so 'late' was never claimed.
    t.driver.containers[0]!.exitNow(0);
    await t.settle();
    expect(t.driver.containers[0]!.claimed).toEqual([]);
    // Not at once: a container that dies before claiming anything is not restarted in a loop.
    await t.clock.advance(4999);
    expect(t.driver.containers).toHaveLength(1);
    await t.clock.advance(1);
    expect(t.driver.containers).toHaveLength(2);
    expect(t.runtime.containerStatus(session)).toBe('running');
    expect(t.driver.containers[1]!.claimed).toEqual(['late']);
  });
});

describe('a container that dies before it claims anything', () => {
  it('is restarted at most once per retry backoff, and never given up on', async () => {
    const t = await setup({ retryBackoffMs: 5000 });
    const starts: number[] = [];
    t.driver.setOnStart((container) => {
      starts.push(t.clock.now());
      container.crash(1);
    });
    const session = await resolve(t, 'mg-slack', 't');
    await t.runtime.writeMessage(session, t.chat('doomed', 'hello'));
    await t.clock.advance(60_000);
    const gaps = starts.slice(1).map((at, i) => at - starts[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(5000);
    expect(starts.length).toBeGreaterThanOrEqual(10);
    expect(t.driver.containers.every((c) => c.claimed.length === 0)).toBe(true);
  });
});

describe('a host-originated message', () => {
  it('is marked unsettled in the central DB by the time writeOutboundDirect resolves', async () => {
    // The mark was written on a later event-loop turn: a crash right after the acknowledgement
    // left a row in outbound.db that no start-up would look for.
    const stuck: ChannelAdapter = { deliver: () => new Promise(() => undefined) };
    const t = await setup({ channels: { slack: stuck } });
    const session = await resolve(t, 'mg-slack', 't');
    await t.runtime.writeOutboundDirect(session, {
      id: 'notice',
      kind: 'chat',
      channelType: 'slack',
      platformId: 'C1',
      threadId: null,
      content: '{}',
    });
    const central = new Database(join(t.dataDir, 'v2.db'), { readonly: true });
    try {
      expect(central.prepare('SELECT session_id, outbound_open FROM session_work').all()).toEqual([
        { session_id: session, outbound_open: 1 },
      ]);
    } finally {
      central.close();
    }
  });
});

describe('after a restart', () => {
  /**
   * The first process: `quiet` sessions whose containers replied and were delivered, plus one
   * more session prepared by `strand`; its agent crashes on a message reading "work". It is
   * closed; the test then puts the quiet sessions' folders out of reach before reopening, so any
   * attempt to open them fails or recreates them.
   */
  async function firstProcess(strand: (t: TestRuntime, session: string) => Promise<void>) {
    const t = await setup({
      deliveryBackoffMs: 3_600_000,
      retryBackoffMs: 5000,
      agent: (m) => (m.text === 'work' ? turn.crash() : undefined),
    });
    t.channels.channel('flaky').failNext(1000);
    const quiet: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = await resolve(t, 'mg-slack', `quiet-${i}`);
      quiet.push(id);
      if (i % 2 === 1) continue; // half of them never ran a container
      await t.runtime.wake(id);
      reply(t.driver.running(id)!, `hello-${i}`, slack);
      await t.runtime.stop(id);
    }
    await t.settle();
    expect(t.channels.delivered).toHaveLength(6);
    const session = await resolve(t, 'mg-flaky', 'stranded');
    await strand(t, session);
    // Not settle(): a delivery waiting an hour for its next attempt is work in flight.
    await t.runtime.close();
    expect(t.errors).toEqual([]);
    return { t, session, quiet };
  }

  it('a session whose outbound rows were left unsettled is delivered, found without opening the other sessions', async () => {
    const first = await firstProcess(async (t, session) => {
      // The channel was down when the process stopped: the reply is not settled.
      await t.runtime.wake(session);
      reply(t.driver.running(session)!, 'pending-reply', { channelType: 'flaky', platformId: 'F1' });
      await t.runtime.stop(session);
    });
    const away = outOfReach(first.t, first.quiet);
    const after = await first.t.reopen({ start: TEST_START + 1000 });
    opened.push(after);
    try {
      await after.settle();
      expect(after.channels.delivered.map((d) => [d.messageId, d.channelType])).toEqual([['pending-reply', 'flaky']]);
      expect(after.errors).toEqual([]);
      for (const f of away.folders) expect(existsSync(f)).toBe(false);
    } finally {
      away.restore();
    }
    await after.runtime.close();
    const db = new Database(after.runtime.paths.inboundDbPath('ag', first.session), { readonly: true });
    try {
      expect(db.prepare('SELECT message_out_id, status FROM delivered').all()).toEqual([
        { message_out_id: 'pending-reply', status: 'delivered' },
      ]);
    } finally {
      db.close();
    }
  });

  it('a session with a due pending message is woken, found without opening the other sessions', async () => {
    const first = await firstProcess(async (t, session) => {
      // The container dies holding its claim: the message is put back, due again in 5 s.
      await t.runtime.writeMessage(session, t.chat('work', 'work'));
      await t.settle();
      expect(t.driver.containers.at(-1)!.exit).toEqual({ code: 1, signal: null });
    });
    const away = outOfReach(first.t, first.quiet);
    const after = await first.t.reopen({ start: TEST_START + 60_000, agent: undefined });
    opened.push(after);
    try {
      // The wake was armed at start-up, due now: settle() fires it.
      await after.settle();
      expect(after.driver.containers.map((c) => [c.sessionId, c.claimed])).toEqual([[first.session, ['work']]]);
      expect(after.errors).toEqual([]);
      for (const f of away.folders) expect(existsSync(f)).toBe(false);
    } finally {
      away.restore();
    }
  });
});

describe('the periodic sweep', () => {
  it('delivers a row nothing else polls: due only after its container exited', async () => {
    const t = await setup({ pollMs: 1000, sweepMs: 30_000 });
    const session = await resolve(t, 'mg-slack', 't');
    await t.runtime.wake(session);
    const container = t.driver.running(session)!;
    reply(container, 'later', slack, new Date(TEST_START + 10_000).toISOString());
    container.exitNow(0);
    await t.settle();
    expect(t.runtime.containerStatus(session)).toBe('stopped');
    // Due at 10 s, but no container runs to be polled: the sweep at 30 s finds it.
    await t.clock.advance(29_000);
    expect(t.channels.delivered).toEqual([]);
    await t.clock.advance(1000);
    expect(t.channels.delivered.map((d) => d.messageId)).toEqual(['later']);
    expect(t.driver.containers).toHaveLength(1);
  });
});
