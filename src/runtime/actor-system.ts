/**
 * One XState system for the whole runtime: a root actor that hosts the registry and every session
 * actor, so there is one clock, one inspection stream and one place to attach an inspector.
 *
 * Invariants (guarded by test/runtime/actor-system.test.ts and test/dashboard/inspect-example.test.ts):
 * 1. Every long-lived actor of the system has a stable, readable id — `runtime`, `registry`,
 *    `session:<sessionId>` — used both as its `id` and as its inspection `sessionId`, from its first
 *    inspection event on, the same across passivation and re-activation ("a session keeps its
 *    inspection id across passivation"); a stopped actor leaves nothing behind in the system
 *    ("an actor stopped and made again leaves no entry behind"). Promise actors a machine invokes
 *    for one step (the registry's `resolveSession`) keep the ids XState books for them.
 * 2. The root ignores every event: a child's error or completion relayed to it can never stop it,
 *    so one session's failure never reaches another actor.
 * 3. Inspection observers may be attached at any time (`inspect`); a throwing observer is
 *    reported, never propagated into an actor's step.
 * 4. Stopping an actor costs what that actor holds, not what the system holds: XState's scheduler
 *    finds a stopping actor's timers by walking every timer of the system (O(live actors) per stop,
 *    minutes to stop 100,000), so the system's scheduler is indexed by the actor that scheduled
 *    ("stopping an actor walks only its own timers").
 */
import {
  createActor,
  fromTransition,
  type Actor,
  type AnyActorLogic,
  type AnyActorRef,
  type InspectionEvent,
  type Observer,
} from 'xstate';
import type { Clock } from './clock.js';

/** What `createActor` needs to put an actor into this system under a stable id. */
export interface SystemMember {
  parent: AnyActorRef;
  id: string;
}

type InspectObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

const rootLogic = fromTransition((state: null) => state, null);

/** The part of XState's system scheduler this module replaces (xstate 5: `system.scheduler`). */
interface Scheduler {
  schedule(source: AnyActorRef, target: AnyActorRef, event: unknown, delay: number, id?: string): void;
  cancel(source: AnyActorRef, id: string): void;
  cancelAll(source: AnyActorRef): void;
}

/**
 * Invariant 4: keeps, per source actor, the ids of the timers it scheduled, so `cancelAll` (run
 * when an actor stops) cancels those alone. XState's own `schedule` and `cancel` still keep the
 * timers; a timer that fired stays in its actor's set until cancelled again or the actor stops
 * (`after` timers reuse one id per transition, so a set holds a few ids at most).
 */
export function indexScheduler(scheduler: Scheduler): void {
  const { schedule, cancel } = scheduler;
  const bySource = new Map<AnyActorRef, Set<string>>();
  scheduler.schedule = (source, target, event, delay, id = Math.random().toString(36).slice(2)) => {
    schedule(source, target, event, delay, id);
    let ids = bySource.get(source);
    if (ids === undefined) bySource.set(source, (ids = new Set()));
    ids.add(id);
  };
  scheduler.cancel = (source, id) => {
    cancel(source, id);
    bySource.get(source)?.delete(id);
  };
  scheduler.cancelAll = (source) => {
    const ids = bySource.get(source);
    if (ids === undefined) return;
    bySource.delete(source);
    for (const id of ids) cancel(source, id);
  };
}

/**
 * Gives `actor` the inspection id `id` before it starts. XState books ids `x:0`, `x:1`, … per
 * system; inspectors key actors by that `sessionId`, so a readable, stable one is set instead.
 */
export function assignStableId(actor: AnyActorRef, id: string): void {
  const a = actor as unknown as { sessionId: string; _actorScope?: { sessionId: string } };
  a.sessionId = id;
  if (a._actorScope !== undefined) a._actorScope.sessionId = id;
}

export class ActorSystem {
  readonly root: Actor<typeof rootLogic>;
  private readonly observers = new Set<InspectObserver>();

  constructor(clock: Clock, onObserverError: (error: unknown) => void) {
    const dispatch = (event: InspectionEvent): void => {
      for (const observer of this.observers) {
        try {
          if (typeof observer === 'function') observer(event);
          else observer.next?.(event);
        } catch (error) {
          onObserverError(error);
        }
      }
    };
    this.root = createActor(rootLogic, { id: 'runtime', clock, inspect: dispatch });
    assignStableId(this.root, 'runtime');
    indexScheduler((this.root.system as unknown as { scheduler: Scheduler }).scheduler);
    this.root.start();
  }

  /** Options placing a new actor in this system as `id`. */
  member(id: string): SystemMember {
    return { parent: this.root, id };
  }

  /**
   * Creates an actor of `logic` in this system with the stable id `id` (not started). The id is
   * booked for it before XState constructs it, so its very first inspection event (`@xstate.actor`)
   * already carries it, and the system's registry of actors is keyed by it: stopping the actor
   * removes that entry (an id changed after construction would leave the booked one behind, holding
   * the stopped actor).
   */
  create<TLogic extends AnyActorLogic>(logic: TLogic, id: string, options: { input?: unknown } = {}): Actor<TLogic> {
    const system = this.root.system as unknown as { _bookId: () => string };
    const book = system._bookId;
    system._bookId = () => id;
    try {
      const actor = createActor(logic, { ...this.member(id), ...(options as object) } as never) as Actor<TLogic>;
      assignStableId(actor, id);
      return actor;
    } finally {
      system._bookId = book;
    }
  }

  /**
   * Stops a member actor. XState lets only a root be stopped through `stop()`; a member is
   * stopped the way its parent would stop it.
   */
  stopMember(actor: AnyActorRef): void {
    (actor as unknown as { _stop(): void })._stop();
  }

  /** Adds an inspection observer for every actor of the system; returns its removal. */
  inspect(observer: InspectObserver): { unsubscribe(): void } {
    this.observers.add(observer);
    return { unsubscribe: () => void this.observers.delete(observer) };
  }

  stop(): void {
    this.observers.clear();
    this.root.stop();
  }
}
