/**
 * The runtime's one actor system (src/runtime/actor-system.ts): stable ids across passivation, a
 * root that outlives its children's failures, observers that cannot break a step, and stops that
 * cost what the stopping actor holds.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock, StateMachine, createMachine, type AnyActorRef, type InspectionEvent } from 'xstate';
import { ActorSystem } from '../../src/runtime/actor-system.js';
import { useTmpDir } from '../helpers/tmp.js';
import { chat, testRuntime } from '../helpers/runtime.js';

const tmp = useTmpDir();

/** An actor that waits `ms` and then moves to `done`. */
const waiter = (ms: number) =>
  createMachine({ initial: 'waiting', states: { waiting: { after: { [ms]: 'done' } }, done: {} } });

describe('the actor system', () => {
  it('a session keeps its inspection id across passivation, beside the registry', async () => {
    // Every inspection event of a machine actor (the registry, the sessions), its first included.
    const ids = new Set<string>();
    const { rt, clock } = await testRuntime(tmp(), {
      passivateMs: 1000,
      inspect: (e: InspectionEvent) => {
        if ((e.actorRef as { logic?: unknown }).logic instanceof StateMachine) ids.add(e.actorRef.sessionId);
      },
    });
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    await rt.writeMessage(session.id, chat('m1', 'one'));
    expect(rt.stats().liveSessions).toBe(1);
    clock.increment(1000);
    await rt.whenIdle();
    expect(rt.stats().liveSessions).toBe(0); // passivated
    const before = new Set(ids);
    await rt.writeMessage(session.id, chat('m2', 'two'));
    expect(rt.stats().liveSessions).toBe(1); // activated again
    expect(before).toEqual(new Set(['registry', `session:${session.id}`]));
    expect(ids).toEqual(before);
    await rt.close();
  });

  it('an actor stopped and made again leaves no entry behind', () => {
    const system = new ActorSystem(new SimulatedClock(), (error) => {
      throw error;
    });
    // XState keeps every actor of a system in a map keyed by its inspection id, through
    // _register(id, actor) and _unregister(actor) (which removes actor.sessionId): mirror it.
    const sys = system.root.system as unknown as {
      _register(id: string, actor: AnyActorRef): string;
      _unregister(actor: AnyActorRef): void;
    };
    const entries = new Set<string>();
    const { _register: register, _unregister: unregister } = sys;
    sys._register = (id, actor) => {
      entries.add(id);
      return register(id, actor);
    };
    sys._unregister = (actor) => {
      entries.delete(actor.sessionId);
      unregister(actor);
    };
    for (let i = 0; i < 3; i++) {
      const actor = system.create(waiter(1000), 'session:s1');
      actor.start();
      expect(actor.sessionId).toBe('session:s1');
      system.stopMember(actor);
    }
    expect([...entries]).toEqual([]);
    system.stop();
  });

  it('stopping an actor walks only its own timers, and the others still fire', () => {
    const clock = new SimulatedClock();
    const system = new ActorSystem(clock, (error) => {
      throw error;
    });
    const actors = [1, 2, 3].map((i) => system.create(waiter(1000), `a${i}`));
    for (const a of actors) a.start();
    // Count every walk over the system's timers (XState's own cancelAll walks them all).
    const inner = (system.root.system as unknown as { _snapshot: { _scheduledEvents: object } })._snapshot;
    let walks = 0;
    inner._scheduledEvents = new Proxy(inner._scheduledEvents, {
      ownKeys(target) {
        walks++;
        return Reflect.ownKeys(target);
      },
    });
    system.stopMember(actors[1]!);
    expect(walks).toBe(0);
    clock.increment(1000);
    const states = actors.map((a: AnyActorRef) => a.getSnapshot().value as string);
    expect(states).toEqual(['done', 'waiting', 'done']); // a2 stopped before its timer
    system.stop();
  });

  it('a timer cancelled by leaving its state never fires, and its actor still stops cleanly', () => {
    const clock = new SimulatedClock();
    const system = new ActorSystem(clock, (error) => {
      throw error;
    });
    const machine = createMachine({
      initial: 'a',
      states: { a: { after: { 500: 'timedOut' }, on: { GO: 'b' } }, b: {}, timedOut: {} },
    });
    const actor = system.create(machine, 'm');
    actor.start();
    actor.send({ type: 'GO' });
    clock.increment(1000);
    expect(actor.getSnapshot().value).toBe('b');
    system.stopMember(actor);
    expect(actor.getSnapshot().status).toBe('stopped');
    system.stop();
  });
});
