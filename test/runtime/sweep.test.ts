/**
 * The sweep and the liveness checks, with the test kit's fake container: scripted to crash,
 * hang or work long holding its claim, it writes `outbound.db` and `.heartbeat` as a real
 * container does, on the simulated clock.
 */
import Database from 'better-sqlite3';
import { existsSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestRuntime, turn, type TestRuntime, type TestRuntimeOptions } from '../../src/testing/index.js';
import { oneSession } from '../helpers/one-session.js';

let t: TestRuntime | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

function query<T>(path: string, sql: string, ...args: unknown[]): T[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

/** A test runtime with one shared Slack session; the host polls every second. */
async function setup(options: TestRuntimeOptions = {}) {
  t = await createTestRuntime({ pollMs: 1000, claimSilenceMs: 60_000, retryBackoffMs: 5000, ...options });
  const session = await oneSession(t.runtime, { channelType: 'slack', platformId: 'C1' });
  const id = session.id;
  const inbound = t.runtime.paths.inboundDbPath('ag', id);
  const outbound = t.runtime.paths.outboundDbPath('ag', id);
  const kit = t;
  return {
    t: kit,
    id,
    heartbeat: t.runtime.paths.heartbeatPath('ag', id),
    write: (messageId: string, text: string) =>
      kit.runtime.writeMessage(id, kit.chat(messageId, text, { channelType: 'slack', platformId: 'C1' })),
    row: (messageId: string) =>
      query<{ status: string; tries: number; process_after: string | null }>(
        inbound,
        'SELECT status, tries, process_after FROM messages_in WHERE id = ?',
        messageId,
      )[0]!,
    acks: () => query(outbound, 'SELECT message_id, status FROM processing_ack'),
  };
}

describe('sweep after a container stops', () => {
  it('puts claimed messages back to pending with tries+1 and a backoff, removes the orphan claims, then wakes again', async () => {
    let crashes = 1;
    const s = await setup({ agent: () => (crashes-- > 0 ? turn.crash() : undefined) });
    await s.write('m1', 'work');
    await s.t.settle();
    // The first container claimed m1 and died holding the claim.
    expect(s.t.driver.containers.map((c) => [c.claimed, c.exit])).toEqual([[['m1'], { code: 1, signal: null }]]);
    expect(s.row('m1')).toEqual({
      status: 'pending',
      tries: 1,
      process_after: new Date(s.t.clock.now() + 5000).toISOString(),
    });
    expect(s.acks()).toEqual([]);
    // The retry is due after the backoff: the session wakes again then, not before.
    await s.t.clock.advance(4999);
    expect(s.t.driver.containers).toHaveLength(1);
    await s.t.clock.advance(1);
    expect(s.t.driver.containers).toHaveLength(2);
    expect(s.t.driver.containers[1]!.claimed).toEqual(['m1']);
    await s.t.clock.advance(1000);
    expect(s.t.channels.delivered.map((d) => d.content)).toEqual([{ text: 'echo: work' }]);
  });

  it('marks a message failed once it has used up maxTries', async () => {
    const s = await setup({ maxTries: 2, retryBackoffMs: 10, agent: () => turn.crash() });
    await s.write('m1', 'poison');
    // Far past every backoff a third attempt could wait for.
    await s.t.clock.advance(10_000);
    expect(s.t.driver.containers.map((c) => c.claimed)).toEqual([['m1'], ['m1']]);
    expect(s.row('m1')).toMatchObject({ status: 'failed', tries: 2 });
  });

  it('syncs completed and failed acks into messages_in.status', async () => {
    const s = await setup({ agent: (m) => (m.id === 'm2' ? turn.fail() : undefined) });
    await s.write('m1', 'a');
    await s.write('m2', 'b');
    await s.t.clock.advance(1000);
    expect(s.acks()).toEqual([
      { message_id: 'm1', status: 'completed' },
      { message_id: 'm2', status: 'failed' },
    ]);
    expect([s.row('m1').status, s.row('m2').status]).toEqual(['completed', 'failed']);
  });
});

describe('liveness', () => {
  it('removes a stale .heartbeat before a start', async () => {
    const s = await setup();
    writeFileSync(s.heartbeat, '');
    const seenAtStart: boolean[] = [];
    s.t.driver.setOnStart((c) => seenAtStart.push(existsSync(c.ctx.heartbeatPath)));
    await s.t.runtime.wake(s.id);
    expect(seenAtStart).toEqual([false]);
  });

  it('kills a container that holds claimed work and whose heartbeat stops moving', async () => {
    const s = await setup({ claimSilenceMs: 5000, heartbeatCeilingMs: 3_600_000, agent: () => turn.hang() });
    const stopped = s.t.record('container.status', (e) => e.to === 'stopped');
    await s.write('m1', 'stuck');
    await s.t.clock.advance(4000);
    expect(stopped).toEqual([]);
    await s.t.clock.advance(4000);
    expect(stopped).toEqual([expect.objectContaining({ reason: expect.stringContaining('stuck') })]);
    expect(s.t.driver.containers[0]!.stopReasons).toEqual([expect.stringMatching(/holding claimed work/)]);
    expect(s.row('m1').tries).toBe(1);
  });

  it('leaves a container alone while its heartbeat keeps moving', async () => {
    // The turn holds its claim for 10 s, twice claimSilenceMs, beating at every poll.
    const s = await setup({ claimSilenceMs: 5000, agent: () => turn.work(10_000) });
    const stopped = s.t.record('container.status', (e) => e.to === 'stopped');
    await s.write('m1', 'slow but alive');
    await s.t.clock.advance(9000);
    expect(s.acks()).toEqual([{ message_id: 'm1', status: 'processing' }]);
    expect(s.t.runtime.containerStatus(s.id)).toBe('running');
    await s.t.clock.advance(2000);
    expect(s.t.channels.delivered.map((d) => d.content)).toEqual([{ text: 'echo: slow but alive' }]);
    expect(stopped).toEqual([]);
  });
});
