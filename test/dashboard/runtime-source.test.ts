import { EventEmitter } from 'eventemitter3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runtimeSource, type DescribableRuntime } from '../../src/dashboard/runtime-source.js';
import type { SessionView } from '../../src/dashboard/source.js';
import type { SessionInfo } from '../../src/runtime/types.js';
import { nextEvent } from '../helpers/events.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir('dash-src-');

const info = (i: number, over: Partial<SessionInfo> = {}): SessionInfo => ({
  id: `s-${String(i).padStart(5, '0')}`,
  agentGroupId: i % 2 === 0 ? 'ag-even' : 'ag-odd',
  messagingGroupId: 'mg-1',
  threadId: null,
  agentProvider: null,
  status: 'active',
  containerStatus: 'stopped',
  lastActive: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

/** A runtime stand-in with `n` sessions, counting what the source asks it. */
function stubRuntime(n: number, withDescribe: boolean) {
  const sessions = new Map(Array.from({ length: n }, (_, i) => [info(i).id, info(i)] as const));
  const emitter = new EventEmitter();
  const calls = { describe: 0, getSession: 0, listSessions: 0, sessionMode: 0 };
  const rt = {
    listSessions: () => {
      calls.listSessions++;
      return [...sessions.values()];
    },
    getSession: (id: string) => {
      calls.getSession++;
      return sessions.get(id);
    },
    sessionMode: () => {
      calls.sessionMode++;
      return 'shared' as const;
    },
    on: (e: string, fn: (...a: unknown[]) => void) => emitter.on(e, fn),
    off: (e: string, fn: (...a: unknown[]) => void) => emitter.off(e, fn),
    ...(withDescribe
      ? {
          describeSession: (id: string): SessionView | undefined => {
            calls.describe++;
            const s = sessions.get(id);
            if (s === undefined) return undefined;
            return {
              session: s,
              mode: 'shared',
              state: { container: 'running', poller: 'polling', mailbox: 'committing' },
              queued: 3,
              counts: { messagesIn: 5, messagesOut: 4, delivered: 3, failed: 1 },
              container: { pid: 4242, startedAt: '2026-01-01T00:00:01.000Z', heartbeatAgeMs: 1500 },
              transitions: [
                {
                  at: '2026-01-01T00:00:01.000Z',
                  region: 'container',
                  from: 'starting',
                  to: 'running',
                  event: 'xstate.done.actor',
                  reason: 'message m-1',
                },
              ],
              deliveries: [
                {
                  messageId: 'out-1',
                  status: 'failed',
                  at: '2026-01-01T00:00:02.000Z',
                  channelType: 'slack',
                  platformId: 'C1',
                  threadId: null,
                  error: 'boom',
                },
              ],
            };
          },
        }
      : {}),
  };
  return { rt: rt as unknown as DescribableRuntime, sessions, emitter, calls };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('runtimeSource over a live runtime', () => {
  it('lists the sessions, and reports a container status change with its transition', async () => {
    const driver = fakeDriver();
    const { rt } = await testRuntime(tmp(), { driver, autoWake: false });
    try {
      const a = (
        await rt.resolveSession({
          agentGroupId: 'ag-main',
          messagingGroupId: 'mg-slack',
          threadId: null,
          mode: 'shared',
        })
      ).session;
      await rt.writeMessage(a.id, chat('m-1', 'hello'));
      const source = runtimeSource(rt, { refreshMs: 0 });
      const first = source.sessions({ offset: 0, limit: 10 });
      expect(first.total).toBe(1);
      expect(first.rows[0]).toMatchObject({
        id: a.id,
        mode: 'shared',
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        containerStatus: 'stopped',
      });

      const b = (
        await rt.resolveSession({
          agentGroupId: 'ag-main',
          messagingGroupId: 'mg-slack',
          threadId: 't-9',
          mode: 'per-thread',
        })
      ).session;
      const changes: string[][] = [];
      source.onChange((ids) => changes.push(ids));
      const running = nextEvent(rt, 'container.status', (e) => e.sessionId === b.id && e.to === 'running');
      await rt.wake(b.id);
      await running;
      expect(changes.flat()).toContain(b.id);
      expect(source.sessions({ offset: 0, limit: 10, status: 'running' }).rows.map((r) => r.id)).toEqual([b.id]);
      const detail = source.session(b.id)!;
      const now = rt.containerStatus(b.id);
      expect(detail.row.containerStatus).toBe(now);
      // Every region of the live actor (from describeSession, or else the inspection stream).
      expect(detail.stateComplete).toBe(true);
      expect(detail.state).toMatchObject({ container: now, poller: 'polling', mailbox: expect.any(String) });
      const start = detail.transitions.find((t) => t.region === 'container' && t.to === 'running');
      expect(start).toMatchObject({ from: 'starting', reason: 'wake' });
      expect(detail.transitions.some((t) => t.region === 'poller' && t.from === 'off' && t.to === 'polling')).toBe(
        true,
      );
      source.dispose?.();
    } finally {
      await rt.close();
    }
  });

  it('counts the rows of the page it shows, and counts again after a write', async () => {
    const { rt } = await testRuntime(tmp());
    try {
      const ids: string[] = [];
      for (const threadId of ['t-1', 't-2', 't-3']) {
        const { session } = await rt.resolveSession({
          agentGroupId: 'ag-main',
          messagingGroupId: 'mg-slack',
          threadId,
          mode: 'per-thread',
        });
        ids.push(session.id);
      }
      await rt.writeMessage(ids[0]!, chat('m-1', 'one'));
      await rt.writeMessage(ids[0]!, chat('m-2', 'two'));
      const asked: string[] = [];
      const count = rt.messageCounts.bind(rt);
      rt.messageCounts = (id: string) => {
        asked.push(id);
        return count(id);
      };
      const source = runtimeSource(rt, { refreshMs: 0 });
      const announced: string[][] = [];
      source.onChange((changed) => announced.push(changed));
      // Unknown at first: the page is answered at once, the counts are asked for its rows only.
      expect(source.sessions({ offset: 0, limit: 2 }).rows.map((r) => r.messagesIn)).toEqual([null, null]);
      expect(asked).toEqual(ids.slice(0, 2));
      await rt.whenIdle();
      await new Promise((resolve) => setImmediate(resolve));
      // Announced as each answer arrives (the commit threads answer in any order).
      expect(announced.flat().sort()).toEqual(ids.slice(0, 2).sort());
      const rows = source.sessions({ offset: 0, limit: 2 }).rows;
      expect(rows.map((r) => [r.messagesIn, r.messagesOut, r.failed])).toEqual([
        [2, 0, 0],
        [0, 0, 0],
      ]);
      expect(asked).toHaveLength(2); // known counts are not asked again
      await rt.writeMessage(ids[0]!, chat('m-3', 'three'));
      source.sessions({ offset: 0, limit: 2 });
      expect(asked).toEqual([...ids.slice(0, 2), ids[0]]);
      await rt.whenIdle();
      await new Promise((resolve) => setImmediate(resolve));
      expect(source.sessions({ offset: 0, limit: 2 }).rows[0]!.messagesIn).toBe(3);
      expect(source.session(ids[0]!)!.delivered).toBe(0);
      source.dispose?.();
    } finally {
      await rt.close();
    }
  });

  it('sees sessions created after it started, and removes its listeners on dispose', async () => {
    const { rt } = await testRuntime(tmp());
    try {
      const before = rt.listenerCount('container.status');
      const source = runtimeSource(rt, { refreshMs: 0 });
      const seen: string[] = [];
      source.onChange((ids) => seen.push(...ids));
      const { session } = await rt.resolveSession({
        agentGroupId: 'ag-main',
        messagingGroupId: null,
        threadId: null,
        mode: 'shared',
      });
      expect(seen).toContain(session.id);
      expect(source.sessions({ offset: 0, limit: 5 }).rows.map((r) => r.id)).toEqual([session.id]);
      expect(rt.listenerCount('container.status')).toBe(before + 1);
      source.dispose?.();
      expect(rt.listenerCount('container.status')).toBe(before);
      expect(rt.listenerCount('session.created')).toBe(0);
    } finally {
      await rt.close();
    }
  });
});

describe('runtimeSource reads', () => {
  it('asks the runtime about the requested page only, with 10,000 sessions', () => {
    const { rt, calls } = stubRuntime(10_000, true);
    const source = runtimeSource(rt, { refreshMs: 0 });
    const page = source.sessions({ offset: 9_950, limit: 50 });
    expect(page.total).toBe(10_000);
    expect(page.rows.map((r) => r.id)).toEqual(Array.from({ length: 50 }, (_, i) => info(9_950 + i).id));
    expect(calls.describe).toBe(50);
    expect(calls.getSession).toBe(0);
    expect(calls.listSessions).toBe(1);
    const filtered = source.sessions({ offset: 0, limit: 20, filter: 'ag-odd s-0999' });
    expect(filtered.total).toBe(5); // s-09991, 3, 5, 7, 9
    expect(calls.describe).toBe(55);
    // Modes are looked up once per session, then cached.
    source.sessions({ offset: 0, limit: 20, filter: 'shared' });
    expect(calls.sessionMode).toBe(10_000);
  });

  it('takes counts, queue, every region, pid, heartbeat, transitions and deliveries from describeSession', () => {
    const { rt } = stubRuntime(3, true);
    const source = runtimeSource(rt, { refreshMs: 0 });
    expect(source.sessions({ offset: 0, limit: 1 }).rows[0]).toMatchObject({
      queued: 3,
      messagesIn: 5,
      messagesOut: 4,
      failed: 1,
    });
    const d = source.session(info(1).id)!;
    expect(d).toMatchObject({
      state: { container: 'running', poller: 'polling', mailbox: 'committing' },
      stateComplete: true,
      delivered: 3,
      container: { pid: 4242, heartbeatAgeMs: 1500 },
    });
    expect(d.transitions).toEqual([
      {
        at: '2026-01-01T00:00:01.000Z',
        index: null,
        region: 'container',
        from: 'starting',
        to: 'running',
        event: 'xstate.done.actor',
        reason: 'message m-1',
      },
    ]);
    expect(d.deliveries[0]).toMatchObject({ messageId: 'out-1', status: 'failed', error: 'boom' });
    expect(source.session('nope')).toBeUndefined();
  });

  it('degrades without describeSession: container region from the status, events since start, unknown columns null', () => {
    const { rt, emitter, sessions } = stubRuntime(2, false);
    const source = runtimeSource(rt, { refreshMs: 0, now: () => Date.UTC(2026, 0, 1, 12) });
    const id = info(0).id;
    sessions.set(id, info(0, { containerStatus: 'running' }));
    emitter.emit('container.status', { sessionId: id, from: 'stopped', to: 'running', reason: 'wake' });
    emitter.emit('outbound.failed', { sessionId: id, messageId: 'out-9', error: new Error('no route') });
    const d = source.session(id)!;
    expect(d.row).toMatchObject({ containerStatus: 'running', queued: null, messagesIn: null, failed: null });
    expect(d).toMatchObject({
      state: { container: 'running' },
      stateComplete: false,
      container: null,
      delivered: null,
    });
    expect(d.transitions).toEqual([
      {
        at: '2026-01-01T12:00:00.000Z',
        index: null,
        region: 'container',
        from: 'stopped',
        to: 'running',
        event: 'container.status',
        reason: 'wake',
      },
    ]);
    expect(d.deliveries).toEqual([
      {
        messageId: 'out-9',
        status: 'failed',
        at: '2026-01-01T12:00:00.000Z',
        channelType: null,
        platformId: null,
        threadId: null,
        error: 'no route',
      },
    ]);
  });

  it('re-lists periodically and reports what changed without an event (another process)', () => {
    vi.useFakeTimers();
    const { rt, sessions } = stubRuntime(3, false);
    const source = runtimeSource(rt, { refreshMs: 1_000 });
    const seen: string[][] = [];
    source.onChange((ids) => seen.push(ids));
    vi.advanceTimersByTime(1_000);
    expect(seen).toEqual([]);
    sessions.set(info(2).id, info(2, { lastActive: '2026-01-01T00:01:00.000Z' }));
    sessions.set('s-new', info(9, { id: 's-new' }));
    vi.advanceTimersByTime(1_000);
    expect(seen).toEqual([[info(2).id, 's-new']]);
    expect(source.sessions({ offset: 0, limit: 10 }).total).toBe(4);
    source.dispose?.();
    sessions.set(info(1).id, info(1, { status: 'closed' }));
    vi.advanceTimersByTime(5_000);
    expect(seen).toHaveLength(1);
  });

  it('follows every region of live actors through the inspection stream when describeSession is missing', () => {
    const { rt, emitter, calls } = stubRuntime(2, false);
    let observer: ((event: unknown) => void) | undefined;
    const unsubscribed: boolean[] = [];
    (rt as { inspect?: unknown }).inspect = (o: (event: unknown) => void) => {
      observer = o;
      return { unsubscribe: () => unsubscribed.push(true) };
    };
    const source = runtimeSource(rt, { refreshMs: 0, now: () => Date.UTC(2026, 0, 1, 12) });
    const seen: string[][] = [];
    source.onChange((ids) => seen.push(ids));
    const id = info(0).id;
    const snapshot = (container: string, poller: string, mailbox: string, queue: number, event: string) =>
      observer!({
        type: '@xstate.snapshot',
        actorRef: { id: `session:${id}` },
        event: { type: event },
        snapshot: { value: { container, poller, mailbox }, context: { queue: new Array(queue), inFlight: [] } },
      });
    snapshot('stopped', 'off', 'idle', 0, 'xstate.init');
    snapshot('stopped', 'off', 'idle', 0, 'session.quietCheck'); // nothing moved: no change reported
    snapshot('stopped', 'off', 'gathering', 2, 'mailbox.enqueue');
    // The status event may come before the snapshot that shows the change.
    emitter.emit('container.status', { sessionId: id, from: 'stopped', to: 'running', reason: 'message m-1' });
    snapshot('running', 'polling', 'gathering', 2, 'xstate.done.actor.0.session.container.starting');
    // Other actors of the system are not sessions.
    observer!({
      type: '@xstate.snapshot',
      actorRef: { id: 'registry' },
      event: { type: 'x' },
      snapshot: { value: 'ready' },
    });
    expect(seen).toEqual([[id], [id], [id], [id]]);
    const d = source.session(id)!;
    expect(d).toMatchObject({
      stateComplete: true,
      state: { container: 'running', poller: 'polling', mailbox: 'gathering' },
    });
    expect(d.row.queued).toBe(2);
    expect(d.transitions.map((t) => [t.region, t.from, t.to, t.event, t.reason])).toEqual([
      ['mailbox', 'idle', 'gathering', 'mailbox.enqueue', null],
      ['container', 'stopped', 'running', 'xstate.done.actor.0.session.container.starting', 'message m-1'],
      ['poller', 'off', 'polling', 'xstate.done.actor.0.session.container.starting', null],
    ]);
    expect(source.sessions({ offset: 0, limit: 1 }).rows[0]!.queued).toBe(2);
    // A session the stream has not shown keeps the degraded view.
    expect(source.session(info(1).id)).toMatchObject({ stateComplete: false, state: { container: 'stopped' } });
    expect(calls.describe).toBe(0);
    // A busy mailbox does not push the container's history out: each region keeps its own.
    for (let i = 0; i < 60; i++) {
      snapshot('running', 'polling', i % 2 === 0 ? 'idle' : 'committing', 0, 'mailbox.committed');
    }
    const busy = source.session(id)!.transitions;
    expect(busy.filter((t) => t.region === 'mailbox')).toHaveLength(25);
    expect(busy.filter((t) => t.region === 'container').map((t) => t.reason)).toEqual(['message m-1']);
    expect(busy.at(-1)).toMatchObject({ region: 'mailbox', to: 'committing' });
    source.dispose?.();
    expect(unsubscribed).toEqual([true]);
  });
});
