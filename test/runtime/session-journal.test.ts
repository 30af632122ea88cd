/**
 * The session journal (src/runtime/session-journal.ts): state changes per region taken from the
 * inspection stream, bounded, the mailbox's cycling left out.
 */
import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { SessionJournal } from '../../src/runtime/session-journal.js';

const T = Date.UTC(2026, 0, 1);

/** An inspection snapshot event of the actor `actorId`. */
function snapshot(actorId: string, value: unknown, event: string, reason?: string): InspectionEvent {
  return {
    type: '@xstate.snapshot',
    actorRef: { id: actorId },
    snapshot: { value, context: reason === undefined ? {} : { reason } },
    event: { type: event },
  } as unknown as InspectionEvent;
}

const state = (container: string, mailbox = 'idle', poller = 'off') => ({ container, mailbox, poller });

describe('SessionJournal', () => {
  it('records what changed in each region of a session actor, with event, reason and time', () => {
    const j = new SessionJournal();
    j.observeInspection(snapshot('session:s1', state('stopped'), 'xstate.init'), T);
    j.observeInspection(
      snapshot('session:s1', state('running', 'committing', 'polling'), 'container.wake', 'message m1'),
      T + 5,
    );
    expect(j.state('s1')).toEqual(state('running', 'committing', 'polling'));
    expect(j.recentTransitions('s1')).toEqual([
      {
        at: new Date(T + 5).toISOString(),
        region: 'container',
        from: 'stopped',
        to: 'running',
        event: 'container.wake',
        reason: 'message m1',
      },
      {
        at: new Date(T + 5).toISOString(),
        region: 'poller',
        from: 'off',
        to: 'polling',
        event: 'container.wake',
        reason: 'message m1',
      },
    ]); // the mailbox's idle → committing is not kept
  });

  it('ignores other actors, other inspection events and snapshots without a state value', () => {
    const j = new SessionJournal();
    j.observeInspection(snapshot('registry', state('a'), 'x'), T);
    j.observeInspection({ type: '@xstate.event', actorRef: { id: 'session:s1' } } as unknown as InspectionEvent, T);
    j.observeInspection(snapshot('session:s1', 'flat', 'x'), T);
    expect(j.state('registry')).toBeUndefined();
    expect(j.state('s1')).toBeUndefined();
  });

  it('keeps the last 50 transitions of a session, and forgets its live state when it is dropped', () => {
    const j = new SessionJournal();
    for (let i = 0; i <= 60; i++)
      j.observeInspection(snapshot('session:s1', state(i % 2 ? 'running' : 'idle'), `e${i}`), T + i);
    const kept = j.recentTransitions('s1');
    expect(kept).toHaveLength(50);
    expect(kept.at(-1)?.event).toBe('e60');
    j.dropState('s1');
    expect(j.state('s1')).toBeUndefined();
    expect(j.recentTransitions('s1')).toHaveLength(50); // history outlives the actor
  });
});
