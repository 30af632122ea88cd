/**
 * The reference agent learns of new inbound rows from a watch on the session folder: the wait
 * between polls ends when `inbound.db` changes; timer polling remains when no watch can run.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { runAgent, type AgentConfig } from '../../src/container/agent/agent.js';
import { watchDir, watchInbound, type DirWatcher, type WatchDir } from '../../src/container/agent/inbound-watch.js';
import { useAgentSessions, waitFor, type TestSession } from './helpers.js';

const { session, start } = useAgentSessions();

/** A watcher driven by hand: `emit(name)` is an event naming `name` in the watched folder. */
function fakeWatch(): { watch: WatchDir; emit(name: string | null): void; fail(error: Error): void; closed(): number } {
  let onEvent: ((name: string | null) => void) | undefined;
  const emitter = new EventEmitter();
  let closes = 0;
  const watcher: DirWatcher = {
    close: () => void closes++,
    on: (event, listener) => emitter.on(event, listener),
  };
  return {
    watch: (_dir, listener) => {
      onEvent = listener;
      return watcher;
    },
    emit: (name) => onEvent?.(name),
    fail: (error) => emitter.emit('error', error),
    closed: () => closes,
  };
}

/** Whether `promise` has settled, after letting every pending callback run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((next) => setImmediate(next));
  return done;
}

describe('watchInbound', () => {
  it('ends a wait on an event naming inbound.db, not on its journal, outbound.db, .heartbeat or no name', async () => {
    const w = fakeWatch();
    const wake = watchInbound('/s/inbound.db', () => undefined, w.watch);
    expect(wake.watching).toBe(true);
    const waiting = wake.sleep(60_000);
    for (const other of ['inbound.db-journal', 'outbound.db', '.heartbeat', null]) w.emit(other);
    expect(await settled(waiting)).toBe(false);
    w.emit('inbound.db');
    await expect(waiting).resolves.toBe(true);
    wake.close();
  });

  it('a change seen between waits ends the next wait at once, and only that one', async () => {
    const w = fakeWatch();
    const wake = watchInbound('/s/inbound.db', () => undefined, w.watch);
    w.emit('inbound.db');
    w.emit('inbound.db');
    await expect(wake.sleep(60_000)).resolves.toBe(true);
    const next = wake.sleep(60_000);
    expect(await settled(next)).toBe(false);
    wake.close();
    // Closed: only the time (or an abort) ends a wait now.
    w.emit('inbound.db');
    expect(await settled(next)).toBe(false);
  });

  it('resolves false at once when aborted, before or during a wait', async () => {
    const wake = watchInbound('/s/inbound.db', () => undefined, fakeWatch().watch);
    const stop = new AbortController();
    const waiting = wake.sleep(60_000, stop.signal);
    stop.abort();
    await expect(waiting).resolves.toBe(false);
    await expect(wake.sleep(60_000, stop.signal)).resolves.toBe(false);
    wake.close();
  });

  it('falls back to polling with one log line when the watch cannot start or fails later', async () => {
    const lines: string[] = [];
    const refused = watchInbound(
      '/s/inbound.db',
      (l) => lines.push(l),
      () => {
        throw new Error('ENOSYS: function not implemented');
      },
    );
    expect(refused.watching).toBe(false);
    expect(lines).toEqual(['cannot watch /s (ENOSYS: function not implemented), polling only']);
    await expect(refused.sleep(1)).resolves.toBe(true);

    lines.length = 0;
    const w = fakeWatch();
    const failing = watchInbound('/s/inbound.db', (l) => lines.push(l), w.watch);
    w.fail(new Error('EPERM'));
    expect(failing.watching).toBe(false);
    expect(w.closed()).toBe(1);
    expect(lines).toEqual(['watch on /s failed (EPERM), polling only']);
    failing.close();
    expect(w.closed()).toBe(1);
  });
});

/** Config for running the agent inside the test process. */
function config(s: TestSession, pollMs: number, idleExitMs = 0): AgentConfig {
  return {
    sessionDir: s.ctx.sessionDir,
    inboundDb: s.ctx.inboundDbPath,
    outboundDb: s.ctx.outboundDbPath,
    heartbeatPath: s.ctx.heartbeatPath,
    pollMs,
    idleExitMs,
    sessionId: s.ctx.sessionId,
    agentGroupId: s.ctx.agentGroupId,
  };
}

const fsWatchers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
const text = (value: string) => JSON.stringify({ text: value });

describe('reference agent with the inbound watch', () => {
  it('a row written while the agent sleeps on a 60 s poll is answered promptly, again and again', async () => {
    const s = session();
    const { lines } = await start(s, { AGENT_POLL_MS: '60000' });
    // The watch starts before the first poll, and the first poll touches the heartbeat.
    await waitFor(() => s.heartbeatMtimeMs(), 'first poll');
    for (const id of ['m1', 'm2', 'm3']) {
      s.write({ id, content: text(id) });
      // Bounded well below the poll interval: only the watch can answer in time.
      await waitFor(() => s.outbound().some((r) => r.in_reply_to === id), `reply to ${id}`, { timeoutMs: 5000 });
    }
    await waitFor(() => lines.filter((l) => l.includes('answered')).length === 3, 'three turns logged');
    expect(lines.filter((l) => l.includes('polling only'))).toEqual([]);
  });

  it('without a watch, the timer poll still answers, after one log line', async () => {
    const s = session();
    const lines: string[] = [];
    const stop = new AbortController();
    const refuse: WatchDir = () => {
      throw new Error('watch not supported');
    };
    const running = runAgent(config(s, 20), { log: (l) => lines.push(l), signal: stop.signal, watch: refuse });
    s.write({ id: 'm1', content: text('polled') });
    await waitFor(() => s.acks().get('m1') === 'completed', 'polled answer');
    stop.abort();
    await expect(running).resolves.toBe('stopped');
    expect(lines.filter((l) => l.includes('polling only'))).toEqual([
      `cannot watch ${s.ctx.sessionDir} (watch not supported), polling only`,
    ]);
  });

  it('releases the watch on abort and on idle exit, and it never keeps the process alive', async () => {
    let opened = 0;
    let closed = 0;
    const counting: WatchDir = (dir, onEvent) => {
      const real = watchDir(dir, onEvent);
      opened++;
      return { close: () => void (closed++, real.close()), on: (event, listener) => real.on(event, listener) };
    };
    const before = fsWatchers();
    const s = session();
    const stop = new AbortController();
    const running = runAgent(config(s, 60_000), { signal: stop.signal, watch: counting });
    await waitFor(() => s.heartbeatMtimeMs(), 'first poll');
    // A real watch runs, yet it is not among the resources that keep the event loop alive.
    expect([opened, closed]).toEqual([1, 0]);
    expect(fsWatchers()).toBe(before);
    stop.abort();
    await expect(running).resolves.toBe('stopped');
    expect([opened, closed]).toEqual([1, 1]);

    await expect(runAgent(config(s, 10, 30), { watch: counting })).resolves.toBe('idle');
    expect([opened, closed]).toEqual([2, 2]);
  });
});
