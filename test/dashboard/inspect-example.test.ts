import { describe, expect, it } from 'vitest';
import type { StatelyActorEvent, StatelySnapshotEvent } from '@statelyai/inspect';
import { inspectRun } from '../../examples/inspect.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir('inspect-example-');

describe('examples/inspect.ts', () => {
  it('shows the registry and the session actor, by their stable ids, with their snapshots, offline', async () => {
    const { sessionId, events } = await inspectRun(tmp());
    const actors = events.filter((e): e is StatelyActorEvent => e.type === '@xstate.actor');
    const snapshots = events.filter((e): e is StatelySnapshotEvent => e.type === '@xstate.snapshot');
    const sessionActor = `session:${sessionId}`;

    // The registry exists before the inspector is attached: its snapshots name it all the same.
    const registrySnapshot = snapshots.find((e) => e.sessionId === 'registry');
    expect(registrySnapshot?.snapshot).toMatchObject({ status: 'active', value: expect.any(String) });

    const session = actors.find((e) => e.sessionId === sessionActor);
    expect(session).toBeDefined();
    expect(session!.name).toBe('session');
    expect(JSON.parse(session!.definition!)).toMatchObject({ id: 'session', type: 'parallel' });

    const sessionSnapshots = snapshots.filter((e) => e.sessionId === sessionActor);
    expect(sessionSnapshots.length).toBeGreaterThan(0);
    expect(sessionSnapshots[0]!.snapshot).toMatchObject({
      status: 'active',
      value: { container: 'stopped', poller: 'off', mailbox: expect.any(String) },
      context: { sessionId },
    });
    // The write went through the mailbox: the inspector saw its enqueue.
    expect(
      events.some(
        (e) => e.type === '@xstate.event' && e.sessionId === sessionActor && e.event.type === 'mailbox.enqueue',
      ),
    ).toBe(true);
    // Everything an adapter receives is plain JSON.
    expect(JSON.parse(JSON.stringify(events))).toHaveLength(events.length);
  });
});
