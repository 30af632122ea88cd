import { getShortestPaths } from 'xstate/graph';
import { sessionMachine, type SessionEvent } from '../../machines/session.machine.js';
const input = { sessionId: 's1', agentGroupId: 'ag', pollMs: 1e9, idleStopMs: 5000, passivateMs: 1e9, maxBatch: 10 };
const startId = sessionMachine.getStateNodeById('session.container.starting').invoke[0]!.id;
const env = {
  done: { type: `xstate.done.actor.${startId}`, output: undefined } as unknown as SessionEvent,
  fail: { type: `xstate.error.actor.${startId}`, error: 'x' } as unknown as SessionEvent,
  idle: { type: 'xstate.after.idleStopMs.session.container.idle' } as unknown as SessionEvent,
};
const user: SessionEvent[] = [
  { type: 'container.wake' }, { type: 'container.stop', reason: 'r' }, { type: 'container.exited', code: 0, signal: null },
  { type: 'container.observed', busy: true }, { type: 'container.observed', busy: false }, { type: 'session.close' },
];
const paths = getShortestPaths(sessionMachine, {
  input,
  events: (s) => [...user, ...(s.matches({ container: 'starting' }) ? [env.done, env.fail] : []), ...(s.matches({ container: 'idle' }) ? [env.idle] : [])],
  serializeState: (s) => JSON.stringify([(s.value as any).container, s.context.closed, s.context.wakeRequested, s.context.stopRequested]),
});
for (const p of paths) console.log(JSON.stringify([(p.state.value as any).container, p.state.context.closed, p.state.context.wakeRequested, p.state.context.stopRequested]), p.steps.map(s => s.event.type + ((s.event as any).busy === undefined ? '' : String((s.event as any).busy))).join(' > '));
