/**
 * One XState system for the whole runtime: a root actor that hosts the registry and every session
 * actor, so there is one clock, one inspection stream and one place to attach an inspector.
 *
 * Invariants (guarded by test/runtime/inspection.test.ts):
 * 1. Every actor of the system has a stable, readable id — `runtime`, `registry`,
 *    `session:<sessionId>` — used both as its `id` and as its inspection `sessionId`, the same
 *    across passivation and re-activation ("a session keeps its inspection id across
 *    passivation").
 * 2. The root ignores every event: a child's error or completion relayed to it can never stop it,
 *    so one session's failure never reaches another actor.
 * 3. Inspection observers may be attached at any time (`inspect`); a throwing observer is
 *    reported, never propagated into an actor's step.
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
    this.root.start();
  }

  /** Options placing a new actor in this system as `id`. */
  member(id: string): SystemMember {
    return { parent: this.root, id };
  }

  /** Creates an actor of `logic` in this system with the stable id `id` (not started). */
  create<TLogic extends AnyActorLogic>(logic: TLogic, id: string, options: { input?: unknown } = {}): Actor<TLogic> {
    const actor = createActor(logic, { ...this.member(id), ...(options as object) } as never) as Actor<TLogic>;
    assignStableId(actor, id);
    return actor;
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
