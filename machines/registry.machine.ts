/**
 * The registry actor: resolves which session a message belongs to, one request at a time.
 *
 * Invariants (guarded by test/machines/registry.machine.test.ts and test/runtime/registry.test.ts):
 * 1. Requests are handled strictly one after another in arrival order, so two resolutions of one
 *    key can never interleave inside a process (across processes the central DB's key row and
 *    `BEGIN IMMEDIATE` take over).
 * 2. No request is dropped: `registry.resolve` is accepted in every state and queued.
 * 3. A failed resolution answers its caller alone; the actor goes on with the next request.
 */
import { assign, emit, fromPromise, setup } from 'xstate';

export type SessionMode = 'shared' | 'per-thread' | 'agent-shared';

export interface ResolveRequest {
  requestId: string;
  agentGroupId: string;
  messagingGroupId: string | null;
  threadId: string | null;
  mode: SessionMode;
  /** Clock reading of the call that asked, used as the new session's creation time. */
  at?: number;
}

export interface ResolveOutcome {
  sessionId: string;
  created: boolean;
}

export type RegistryEvent = { type: 'registry.resolve'; request: ResolveRequest };

export type RegistryEmitted =
  | { type: 'registry.resolved'; requestId: string; outcome: ResolveOutcome }
  | { type: 'registry.failed'; requestId: string; error: unknown };

export interface RegistryContext {
  queue: ResolveRequest[];
  current: ResolveRequest | null;
}

export const registryMachine = setup({
  types: {
    context: {} as RegistryContext,
    events: {} as RegistryEvent,
    emitted: {} as RegistryEmitted,
  },
  actors: {
    /** Looks the key up and creates the session when none is active (implemented in src/runtime). */
    resolveSession: fromPromise<ResolveOutcome, ResolveRequest>(async () => {
      throw new Error('resolveSession is not provided');
    }),
  },
  guards: {
    hasQueued: ({ context }) => context.queue.length > 0,
  },
  actions: {
    enqueue: assign({ queue: ({ context, event }) => [...context.queue, event.request] }),
    takeNext: assign(({ context }) => ({ current: context.queue[0] ?? null, queue: context.queue.slice(1) })),
    answer: emit(({ context, event }) => ({
      type: 'registry.resolved' as const,
      requestId: context.current?.requestId ?? '',
      outcome: (event as unknown as { output: ResolveOutcome }).output,
    })),
    refuse: emit(({ context, event }) => ({
      type: 'registry.failed' as const,
      requestId: context.current?.requestId ?? '',
      error: (event as unknown as { error: unknown }).error,
    })),
    clearCurrent: assign({ current: null }),
  },
}).createMachine({
  id: 'registry',
  context: { queue: [], current: null },
  initial: 'ready',
  on: { 'registry.resolve': { actions: 'enqueue' } },
  states: {
    ready: {
      always: { guard: 'hasQueued', target: 'resolving' },
    },
    resolving: {
      entry: 'takeNext',
      invoke: {
        src: 'resolveSession',
        input: ({ context }) => context.current as ResolveRequest,
        onDone: { target: 'ready', actions: ['answer', 'clearCurrent'] },
        onError: { target: 'ready', actions: ['refuse', 'clearCurrent'] },
      },
    },
  },
});

export type RegistryMachine = typeof registryMachine;
