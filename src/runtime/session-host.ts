/**
 * The activation table: which sessions have a live actor, and the one session machine they all
 * run, provided with its implementations once per runtime.
 *
 * Invariants (guarded by test/runtime/lifecycle.test.ts and test/runtime/mailbox.test.ts):
 * 1. At most one live actor per session; a stopped, quiet actor is dropped after `passivateMs`
 *    and re-activated on demand from its central row.
 * 2. Every live actor belongs to an active session, or is kept only to read and clear files.
 * 3. The machine is provided once: actors share its definition, and each action finds its
 *    session through the actor that runs it.
 */
import { fromPromise } from 'xstate';
import {
  sessionMachine,
  type CommitInput,
  type OpResult,
  type SessionEmitted,
  type StartOutput,
} from '../../machines/session.machine.js';
import { RuntimeError } from '../errors.js';
import type { ActorSystem } from './actor-system.js';
import type { Clock } from './clock.js';
import type { CommitTurns } from './commit-turns.js';
import type { Recorder } from '../eventlog/recorder.js';
import { executeBatch, type BatchEnv } from './session-ops.js';
import { SessionActor } from './session-actor.js';
import type { Settings } from './settings.js';

export interface SessionHostDeps {
  system: ActorSystem;
  clock: Clock;
  settings: Settings;
  turns: CommitTurns;
  recorder: Recorder | undefined;
  /** The batch environment of a live session (paths, limits, the container's side). */
  envFor(actor: SessionActor): BatchEnv;
  startContainer(sessionId: string): Promise<{ at: number }>;
  stopContainer(sessionId: string, reason: string): Promise<void>;
  onResults(sessionId: string, results: OpResult[], at: number): void;
  onEmitted(event: SessionEmitted): void;
  onError(sessionId: string, error: unknown): void;
}

export class SessionHost {
  private readonly live = new Map<string, SessionActor>();
  private readonly byRef = new WeakMap<object, SessionActor>();
  private readonly machine;
  private stopped = false;

  constructor(private readonly deps: SessionHostDeps) {
    const { clock, turns } = deps;
    this.machine = sessionMachine.provide({
      actions: {
        awaitTurn: ({ self }) =>
          turns.request(() => {
            if (self.getSnapshot().status !== 'active') return false;
            self.send({ type: 'mailbox.turn' });
            return true;
          }),
        // executeBatch never throws (test/runtime/session-ops.test.ts): failures are results.
        commitBatch: ({ self }, input: CommitInput) => {
          const actor = this.byRef.get(self);
          if (actor === undefined) return;
          const at = clock.now();
          self.send({ type: 'mailbox.committed', at, results: executeBatch(deps.envFor(actor), input, at) });
        },
      },
      actors: {
        startContainer: fromPromise<StartOutput, { sessionId: string }>(({ input }) =>
          deps.startContainer(input.sessionId),
        ),
        stopContainer: fromPromise<void, { sessionId: string; reason: string }>(({ input }) =>
          deps.stopContainer(input.sessionId, input.reason),
        ),
      },
    });
    const recorder = deps.recorder;
    if (recorder !== undefined) {
      // The event log's feed: every event each session actor processes, in processing order.
      deps.system.inspect((event) => {
        if (event.type !== '@xstate.event' || event.event.type === 'xstate.init') return;
        const actor = this.byRef.get(event.actorRef);
        if (actor === undefined) return;
        recorder.record({ k: 'ev', s: actor.id, e: event.event as { type: string; [key: string]: unknown } });
      });
    }
  }

  get(sessionId: string): SessionActor | undefined {
    return this.live.get(sessionId);
  }

  get size(): number {
    return this.live.size;
  }

  all(): SessionActor[] {
    return [...this.live.values()];
  }

  /** The live actor of `sessionId`, created if there is none. */
  activate(sessionId: string, agentGroupId: string): SessionActor {
    const existing = this.live.get(sessionId);
    if (existing !== undefined) return existing;
    if (this.stopped) throw new RuntimeError('RUNTIME_CLOSED', 'the runtime is closed');
    const { settings } = this.deps;
    this.deps.recorder?.record({ k: 'activate', s: sessionId, ag: agentGroupId });
    const actor = new SessionActor({
      sessionId,
      agentGroupId,
      machine: this.machine,
      system: this.deps.system,
      pollMs: settings.pollMs,
      idleStopMs: settings.idleStopMs,
      passivateMs: settings.passivateMs,
      maxBatch: settings.maxBatch,
      tryTakeTurn: () => this.deps.turns.tryTake(),
      onResults: (id, results, at) => this.deps.onResults(id, results, at),
      onEmitted: (event) => {
        if (event.type === 'session.passivate') this.passivateSoon(event.sessionId);
        else this.deps.onEmitted(event);
      },
      onError: (id, error) => this.deps.onError(id, error),
    });
    this.byRef.set(actor.actor, actor);
    this.live.set(sessionId, actor);
    actor.start();
    return actor;
  }

  deactivate(sessionId: string): void {
    const actor = this.live.get(sessionId);
    if (actor === undefined) return;
    this.live.delete(sessionId);
    actor.stop();
    this.deps.recorder?.record({ k: 'passivate', s: sessionId });
  }

  /** Stops every live actor (their pending operations reject RUNTIME_CLOSED); none is created after. */
  stopAll(): void {
    this.stopped = true;
    for (const actor of this.live.values()) actor.stop();
    this.live.clear();
  }

  private passivateSoon(sessionId: string): void {
    queueMicrotask(() => {
      const actor = this.live.get(sessionId);
      if (actor !== undefined && actor.isQuiet()) this.deactivate(sessionId);
    });
  }
}
