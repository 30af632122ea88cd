/**
 * The registry machine with a recorded `resolveSession` stub whose calls are held on deferreds,
 * so the test decides when each resolution finishes and can see what is in flight meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createActor, fromPromise, waitFor, type Actor } from 'xstate';
import {
  registryMachine,
  type RegistryEmitted,
  type ResolveOutcome,
  type ResolveRequest,
} from '../../machines/registry.machine.js';
import { deferred, drain, type Deferred } from './helpers.js';

interface Call {
  request: ResolveRequest;
  deferred: Deferred<ResolveOutcome>;
}

interface RegistryHarness {
  actor: Actor<typeof registryMachine>;
  calls: Call[];
  answers: RegistryEmitted[];
  errors: unknown[];
  inFlight: number;
  maxInFlight: number;
  /** Resolves with call number `index` (0-based) once the stub has been invoked that often. */
  call(index: number): Promise<Call>;
  resolve(id: string): void;
}

const harnesses: RegistryHarness[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) {
    expect(h.errors).toEqual([]);
    h.actor.stop();
  }
});

const request = (requestId: string, threadId: string | null = null): ResolveRequest => ({
  requestId,
  agentGroupId: 'ag-1',
  messagingGroupId: 'mg-1',
  threadId,
  mode: threadId === null ? 'shared' : 'per-thread',
});
const outcomeFor = (r: ResolveRequest): ResolveOutcome => ({ sessionId: `sess-for-${r.requestId}`, created: true });

function registryHarness(): RegistryHarness {
  const waiters = new Map<number, (call: Call) => void>();
  const h = { calls: [], answers: [], errors: [], inFlight: 0, maxInFlight: 0 } as unknown as RegistryHarness;
  const machine = registryMachine.provide({
    actors: {
      resolveSession: fromPromise<ResolveOutcome, ResolveRequest>(({ input }) => {
        const call: Call = { request: input, deferred: deferred<ResolveOutcome>() };
        h.calls.push(call);
        h.inFlight++;
        h.maxInFlight = Math.max(h.maxInFlight, h.inFlight);
        const settled = () => {
          h.inFlight--;
        };
        call.deferred.promise.then(settled, settled);
        waiters.get(h.calls.length - 1)?.(call);
        return call.deferred.promise;
      }),
    },
  });
  h.actor = createActor(machine, { id: 'registry' });
  h.actor.on('*', (e) => h.answers.push(e));
  h.actor.subscribe({ error: (e) => h.errors.push(e) });
  h.call = (index) => {
    const existing = h.calls[index];
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise((resolve) => waiters.set(index, resolve));
  };
  h.resolve = (id) => h.actor.send({ type: 'registry.resolve', request: request(id) });
  h.actor.start();
  harnesses.push(h);
  return h;
}

const answeredIds = (h: RegistryHarness) => h.answers.map((a) => a.requestId);

describe('registry machine', () => {
  it('answers 100 same-tick requests strictly one after another, in arrival order', async () => {
    const h = registryHarness();
    const ids = Array.from({ length: 100 }, (_, i) => `r${i}`);
    for (const id of ids) h.resolve(id);
    for (let i = 0; i < ids.length; i++) {
      const call = await h.call(i);
      await drain();
      expect(call.request.requestId).toBe(ids[i]);
      expect(h.calls).toHaveLength(i + 1); // the next one waits for this one
      expect(h.inFlight).toBe(1);
      expect(answeredIds(h)).toEqual(ids.slice(0, i));
      call.deferred.resolve(outcomeFor(call.request));
    }
    await waitFor(h.actor, (s) => s.matches('ready') && s.context.queue.length === 0);
    expect(h.maxInFlight).toBe(1);
    expect(answeredIds(h)).toEqual(ids);
    expect(h.answers).toEqual(
      ids.map((id) => ({
        type: 'registry.resolved',
        requestId: id,
        outcome: { sessionId: `sess-for-${id}`, created: true },
      })),
    );
  });

  it('passes each request to resolveSession unchanged', async () => {
    const h = registryHarness();
    const r = request('with-thread', 'thread-9');
    h.actor.send({ type: 'registry.resolve', request: r });
    expect((await h.call(0)).request).toEqual(r);
  });

  it('answers a failed resolution to its caller only, and the next request proceeds', async () => {
    const h = registryHarness();
    for (const id of ['a', 'b', 'c']) h.resolve(id);
    const a = await h.call(0);
    a.deferred.resolve(outcomeFor(a.request));
    const b = await h.call(1);
    const error = new Error('SQLITE_BUSY');
    b.deferred.reject(error);
    const c = await h.call(2);
    expect(c.request.requestId).toBe('c');
    c.deferred.resolve(outcomeFor(c.request));
    await waitFor(h.actor, (s) => s.matches('ready') && s.context.queue.length === 0);
    expect(h.answers).toEqual([
      { type: 'registry.resolved', requestId: 'a', outcome: outcomeFor(a.request) },
      { type: 'registry.failed', requestId: 'b', error },
      { type: 'registry.resolved', requestId: 'c', outcome: outcomeFor(c.request) },
    ]);
    expect(h.actor.getSnapshot().status).toBe('active');
  });

  it('drops no request that arrives while another is being resolved', async () => {
    const h = registryHarness();
    h.resolve('first');
    const first = await h.call(0);
    expect(h.actor.getSnapshot().matches('resolving')).toBe(true);
    const late = Array.from({ length: 10 }, (_, i) => `late${i}`);
    for (const id of late) h.resolve(id);
    expect(h.actor.getSnapshot().context.queue.map((r) => r.requestId)).toEqual(late);
    first.deferred.resolve(outcomeFor(first.request));
    for (let i = 0; i < late.length; i++) {
      const call = await h.call(i + 1);
      if (i === 4) h.resolve('later'); // and again, mid-way through the queue
      call.deferred.resolve(outcomeFor(call.request));
    }
    const last = await h.call(late.length + 1);
    last.deferred.resolve(outcomeFor(last.request));
    await waitFor(h.actor, (s) => s.matches('ready') && s.context.queue.length === 0);
    expect(answeredIds(h)).toEqual(['first', ...late, 'later']);
    expect(h.maxInFlight).toBe(1);
  });

  it('is ready and idle with no requests', () => {
    const h = registryHarness();
    expect(h.actor.getSnapshot().matches('ready')).toBe(true);
    expect(h.actor.getSnapshot().context).toEqual({ queue: [], current: null });
  });
});
