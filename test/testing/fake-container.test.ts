import Database from 'better-sqlite3';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createTestRuntime,
  TEST_START,
  turn,
  type TestRuntime,
  type TestRuntimeOptions,
} from '../../src/testing/index.js';
import { oneSession } from '../helpers/one-session.js';

let t: TestRuntime | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** A test runtime with one agent group, one Slack messaging group and one shared session. */
async function setup(options: TestRuntimeOptions = {}) {
  t = await createTestRuntime(options);
  const session = await oneSession(t.runtime, { channelType: 'slack', platformId: 'C1' });
  const p = t.runtime.paths;
  return {
    t,
    id: session.id,
    inbound: p.inboundDbPath('ag', session.id),
    outbound: p.outboundDbPath('ag', session.id),
    heartbeat: p.heartbeatPath('ag', session.id),
    sessionDir: p.sessionDir('ag', session.id),
  };
}

function query<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

const slack = { channelType: 'slack', platformId: 'C1' } as const;

describe('the fake container', () => {
  it('claims the batch in processing_ack before the script runs', async () => {
    const seen: unknown[] = [];
    const s = await setup({
      agent: (message, container) => {
        seen.push({
          acks: query(container.ctx.outboundDbPath, 'SELECT message_id, status FROM processing_ack'),
          replies: query(container.ctx.outboundDbPath, 'SELECT id FROM messages_out'),
          message: { id: message.id, seq: message.seq, text: message.text, channelType: message.channelType },
        });
        return undefined;
      },
    });
    const running = s.t.next('container.status', (e) => e.to === 'running');
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'hello', slack));
    await running;
    expect(seen).toEqual([
      {
        acks: [{ message_id: 'm1', status: 'processing' }],
        replies: [],
        message: { id: 'm1', seq: 2, text: 'hello', channelType: 'slack' },
      },
    ]);
  });

  it('writes outbound.db as a container would: one reply per trigger row, odd seq above both tables, outcomes', async () => {
    const s = await setup();
    await s.t.runtime.writeMessage(s.id, s.t.chat('ctx', 'context only', { ...slack, trigger: 0 }));
    const running = s.t.next('container.status', (e) => e.to === 'running');
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'hello', { ...slack, threadId: 'T9' }));
    await running;
    expect(query(s.outbound, 'SELECT * FROM messages_out')).toEqual([
      {
        id: 'm1-r1',
        seq: 5,
        in_reply_to: 'm1',
        timestamp: new Date(TEST_START).toISOString(),
        deliver_after: null,
        recurrence: null,
        kind: 'chat',
        platform_id: 'C1',
        channel_type: 'slack',
        thread_id: 'T9',
        content: '{"text":"echo: hello"}',
      },
    ]);
    expect(query(s.outbound, 'SELECT message_id, status FROM processing_ack ORDER BY message_id')).toEqual([
      { message_id: 'ctx', status: 'completed' },
      { message_id: 'm1', status: 'completed' },
    ]);
    expect(query<{ journal_mode: string }>(s.outbound, 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'delete' }]);
    expect(existsSync(`${s.outbound}-wal`)).toBe(false);
    // The heartbeat carries the injected clock's time.
    expect(statSync(s.heartbeat).mtimeMs).toBe(TEST_START);
    expect(s.t.driver.containers[0]!.claimed).toEqual(['ctx', 'm1']);
  });

  it('replies with files: written to outbox/<id>/ and listed in the content, delivered with the reply', async () => {
    const s = await setup({
      agent: () =>
        turn.reply({ text: 'report' }, { files: { 'report.txt': 'all good', 'raw.bin': Buffer.from([1, 2]) } }),
    });
    const running = s.t.next('container.status', (e) => e.to === 'running');
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'report please', slack));
    await running;
    expect(readFileSync(join(s.sessionDir, 'outbox/m1-r1/report.txt'), 'utf8')).toBe('all good');
    expect(query<{ content: string }>(s.outbound, 'SELECT content FROM messages_out')).toEqual([
      { content: '{"text":"report","files":["report.txt","raw.bin"]}' },
    ]);
    const delivered = s.t.next('outbound.delivered');
    await s.t.clock.advance(250);
    await delivered;
    const [reply] = s.t.channels.channel('slack').delivered;
    expect(reply!.files?.map((f) => [f.filename, [...f.data]])).toEqual([
      ['report.txt', [...Buffer.from('all good')]],
      ['raw.bin', [1, 2]],
    ]);
  });

  it('several replies to one message take consecutive odd seqs and their own ids', async () => {
    const s = await setup({ agent: () => turn.replies({ content: { text: 'one' } }, { content: 'two' }) });
    const running = s.t.next('container.status', (e) => e.to === 'running');
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'hi', slack));
    await running;
    expect(query(s.outbound, 'SELECT id, seq, content FROM messages_out ORDER BY seq')).toEqual([
      { id: 'm1-r1', seq: 3, content: '{"text":"one"}' },
      { id: 'm1-r2', seq: 5, content: 'two' },
    ]);
  });

  it('fail marks the message failed and writes no reply', async () => {
    const s = await setup({ agent: () => turn.fail() });
    const running = s.t.next('container.status', (e) => e.to === 'running');
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'hi', slack));
    await running;
    expect(query(s.outbound, 'SELECT message_id, status FROM processing_ack')).toEqual([
      { message_id: 'm1', status: 'failed' },
    ]);
    expect(query(s.outbound, 'SELECT id FROM messages_out')).toEqual([]);
  });

  it('crash exits non-zero after the claim, leaving it processing and writing nothing else', async () => {
    const s = await setup({ agent: () => turn.crash(3) });
    const running = s.t.next('container.status', (e) => e.to === 'running');
    const stopped = s.t.next('container.status', (e) => e.to === 'stopped');
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'hi', slack));
    await running; // the exit is reported on a later turn, after the host saw the start
    const container = s.t.driver.containers[0]!;
    // What the host finds at the exit, before it sweeps (this callback runs right after the host's).
    const atExit = new Promise<unknown>((resolve) =>
      container.onExit((info) =>
        resolve({ info, acks: query(s.outbound, 'SELECT message_id, status FROM processing_ack') }),
      ),
    );
    expect(await atExit).toEqual({
      info: { code: 3, signal: null },
      acks: [{ message_id: 'm1', status: 'processing' }],
    });
    expect(query(s.outbound, 'SELECT id FROM messages_out')).toEqual([]);
    expect(await stopped).toMatchObject({ from: 'running', to: 'stopped' });
    expect(container.state).toBe('exited');
  });

  it('hang keeps the claim, stops polling and beating, and is killed by the host for its silence', async () => {
    const s = await setup({ agent: () => turn.hang(), claimSilenceMs: 10_000 });
    const running = s.t.next('container.status', (e) => e.to === 'running');
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'hi', slack));
    await running;
    const container = s.t.driver.containers[0]!;
    expect(container.state).toBe('hung');
    const polls = container.pollCount;
    const stopped = s.t.next('container.status', (e) => e.to === 'stopped');
    await s.t.clock.advance(10_000 + 1_000);
    await stopped;
    expect(container.pollCount).toBe(polls);
    expect(statSync(s.heartbeat).mtimeMs).toBe(TEST_START);
    expect(container.stopReasons).toEqual([expect.stringMatching(/^stuck: silent for \d+ ms holding claimed work$/)]);
    expect(container.exit).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('exit completes the turn, then exits 0 on its own', async () => {
    const s = await setup({ agent: () => turn.exit() });
    const stopped = s.t.next('container.status', (e) => e.to === 'stopped');
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'bye', slack));
    await stopped;
    expect(s.t.driver.containers[0]!.exit).toEqual({ code: 0, signal: null });
    expect(query(s.outbound, 'SELECT message_id, status FROM processing_ack')).toEqual([
      { message_id: 'm1', status: 'completed' },
    ]);
  });

  it('polls on the clock, answers later messages, and sends messages of its own to session_routing', async () => {
    const s = await setup({ agentPollMs: 500 });
    const running = s.t.next('container.status', (e) => e.to === 'running');
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'one', slack));
    await running;
    const container = s.t.driver.running(s.id)!;
    expect(container.pollCount).toBe(1);
    await s.t.runtime.writeMessage(s.id, s.t.chat('m2', 'two', slack));
    await s.t.clock.advance(499);
    expect(container.pollCount).toBe(1);
    await s.t.clock.advance(1);
    expect(container.pollCount).toBe(2);
    expect(container.claimed).toEqual(['m1', 'm2']);
    const notice = container.send({ content: { text: 'good morning' } });
    expect(notice).toBe('out-1');
    expect(
      query(s.outbound, 'SELECT id, seq, in_reply_to, channel_type, platform_id FROM messages_out ORDER BY seq'),
    ).toEqual([
      { id: 'm1-r1', seq: 3, in_reply_to: 'm1', channel_type: 'slack', platform_id: 'C1' },
      { id: 'm2-r1', seq: 5, in_reply_to: 'm2', channel_type: 'slack', platform_id: 'C1' },
      { id: 'out-1', seq: 7, in_reply_to: null, channel_type: 'slack', platform_id: 'C1' },
    ]);
  });

  it('exits 0 on its own after agentIdleExitMs without work', async () => {
    const s = await setup({ agentIdleExitMs: 1_000, agentPollMs: 100 });
    const stopped = s.t.next('container.status', (e) => e.to === 'stopped');
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'hi', slack));
    await s.t.clock.advance(900);
    expect(s.t.driver.containers[0]!.state).toBe('running');
    await s.t.clock.advance(200);
    await stopped;
    expect(s.t.driver.containers[0]!.exit).toEqual({ code: 0, signal: null });
  });

  it('work holds the claim while beating, claims nothing else, then carries out its turn', async () => {
    const s = await setup({
      agent: (m) => (m.id === 'm1' ? turn.work(1_000, turn.reply({ text: 'done' })) : undefined),
    });
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'long job', slack));
    await s.t.settle();
    await s.t.runtime.writeMessage(s.id, s.t.chat('m2', 'meanwhile', slack));
    await s.t.clock.advance(500);
    const container = s.t.driver.containers[0]!;
    expect(container.claimed).toEqual(['m1']);
    expect(query(s.outbound, 'SELECT message_id, status FROM processing_ack')).toEqual([
      { message_id: 'm1', status: 'processing' },
    ]);
    expect(statSync(s.heartbeat).mtimeMs).toBe(TEST_START + 500);
    await s.t.clock.advance(499);
    expect(query(s.outbound, 'SELECT id FROM messages_out')).toEqual([]);
    await s.t.clock.advance(1);
    expect(query(s.outbound, 'SELECT id, content FROM messages_out')).toEqual([
      { id: 'm1-r1', content: '{"text":"done"}' },
    ]);
    await s.t.clock.advance(100);
    expect(container.claimed).toEqual(['m1', 'm2']);
  });

  it('declares a long tool in container_state, also while hung, and clears it', async () => {
    const s = await setup({ agent: () => turn.hang() });
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'build', slack));
    await s.t.settle();
    const container = s.t.driver.containers[0]!;
    expect(container.state).toBe('hung');
    container.setTool('Bash', 600_000);
    const state = () => query(s.outbound, 'SELECT * FROM container_state');
    const at = new Date(TEST_START).toISOString();
    expect(state()).toEqual([
      { id: 1, current_tool: 'Bash', tool_declared_timeout_ms: 600_000, tool_started_at: at, updated_at: at },
    ]);
    await s.t.clock.advance(1_000);
    container.clearTool();
    expect(state()).toEqual([
      {
        id: 1,
        current_tool: null,
        tool_declared_timeout_ms: null,
        tool_started_at: null,
        updated_at: new Date(TEST_START + 1_000).toISOString(),
      },
    ]);
    await container.stop('test over');
    expect(() => container.setTool('Bash', 1)).toThrow(/has exited/);
  });

  it('kill exits on a signal, leaving the claims for the host to sweep', async () => {
    const s = await setup({ agent: () => turn.hang() });
    const stopped = s.t.record('container.status', (e) => e.to === 'stopped');
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'hi', slack));
    await s.t.settle();
    const container = s.t.driver.containers[0]!;
    container.kill();
    await s.t.settle();
    expect(container.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(stopped.map((e) => e.reason)).toEqual(['exited on SIGKILL']);
    expect(query(s.inbound, "SELECT id, status, tries FROM messages_in WHERE id = 'm1'")).toEqual([
      { id: 'm1', status: 'pending', tries: 1 },
    ]);
  });

  it('reportNow reports the exit before the call returns; otherwise on a later turn', async () => {
    const s = await setup();
    await s.t.runtime.wake(s.id);
    const first = s.t.driver.running(s.id)!;
    first.exitNow(0);
    expect(first.exit).toBeUndefined();
    await s.t.settle();
    expect(first.exit).toEqual({ code: 0, signal: null });

    await s.t.runtime.wake(s.id);
    const second = s.t.driver.running(s.id)!;
    const heard: unknown[] = [];
    second.onExit((info) => heard.push(info));
    second.crash(4, { reportNow: true });
    expect(heard).toEqual([{ code: 4, signal: null }]);
    await s.t.settle();
    expect(s.t.runtime.containerStatus(s.id)).toBe('stopped');
  });

  it('a start that fails starts nothing', async () => {
    const s = await setup({ driver: undefined });
    s.t.driver.setFailStart(new Error('no capacity'));
    await expect(s.t.runtime.wake(s.id)).rejects.toThrow();
    expect(s.t.driver.containers).toEqual([]);
    expect(s.t.runtime.containerStatus(s.id)).toBe('stopped');
  });
});

describe('the fake driver', () => {
  it('onStart runs before the first poll; a container it breaks claims nothing', async () => {
    const s = await setup();
    const seen: unknown[] = [];
    s.t.driver.setOnStart((container) => {
      seen.push({ polls: container.pollCount, heartbeat: existsSync(container.ctx.heartbeatPath) });
      container.crash(1);
    });
    await s.t.runtime.writeMessage(s.id, s.t.chat('m1', 'hi', slack));
    await s.t.settle();
    expect(seen).toEqual([{ polls: 0, heartbeat: false }]);
    const container = s.t.driver.containers[0]!;
    expect([container.pollCount, container.claimed, container.exit]).toEqual([0, [], { code: 1, signal: null }]);
    expect(query(s.outbound, 'SELECT message_id FROM processing_ack')).toEqual([]);
    expect(s.t.runtime.containerStatus(s.id)).toBe('stopped');
  });
});
