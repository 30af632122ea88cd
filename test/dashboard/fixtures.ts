/**
 * A replay timeline built by hand: two sessions, eleven records. `s-1` is created at record 1,
 * commits a message (2-3), its container starts (5) and goes idle (7); `s-2` appears at record 6
 * and commits at 8-9. Record 10 is the end.
 */
import type { ReplaySessionView, ReplayTimeline } from '../../src/eventlog/replay-timeline.js';

const view = (
  over: Omit<Partial<ReplaySessionView>, 'state'> & { state?: Partial<ReplaySessionView['state']> } = {},
): ReplaySessionView => ({
  status: 'stopped',
  queued: 0,
  messagesIn: 0,
  messagesOut: 0,
  delivered: 0,
  failed: 0,
  lastEvent: 'xstate.init',
  ...over,
  state: { container: 'stopped', poller: 'off', mailbox: 'idle', ...over.state },
});

const rec = (index: number, k: string, sessionId: string | null, summary: string) => ({
  index,
  line: index + 2,
  k,
  sessionId,
  summary,
});

export const timeline: ReplayTimeline = {
  records: [
    rec(0, 'call', null, 'upsertAgentGroup ag-main'),
    rec(1, 'ret', 's-1', 'resolveSession → s-1 (created, shared)'),
    rec(2, 'ev', 's-1', 'mailbox.enqueue writeMessage m-1'),
    rec(3, 'ev', 's-1', 'mailbox.committed 1 result'),
    rec(4, 'call', 's-1', 'wake s-1'),
    rec(5, 'ev', 's-1', 'container started'),
    rec(6, 'ret', 's-2', 'resolveSession → s-2 (created, per-thread)'),
    rec(7, 'ev', 's-1', 'container.observed idle'),
    rec(8, 'ev', 's-2', 'mailbox.enqueue writeMessage m-2'),
    rec(9, 'ev', 's-2', 'mailbox.committed 1 result'),
    rec(10, 'end', null, 'end'),
  ],
  changes: [
    { index: 1, sessionId: 's-1', view: view() },
    {
      index: 2,
      sessionId: 's-1',
      view: view({ queued: 1, state: { mailbox: 'committing' }, lastEvent: 'mailbox.enqueue' }),
    },
    { index: 3, sessionId: 's-1', view: view({ messagesIn: 1, lastEvent: 'mailbox.committed' }) },
    {
      index: 5,
      sessionId: 's-1',
      view: view({
        status: 'running',
        messagesIn: 1,
        state: { container: 'running', poller: 'polling' },
        lastEvent: 'xstate.done.actor.0.session.container.starting',
      }),
    },
    { index: 6, sessionId: 's-2', view: view() },
    {
      index: 7,
      sessionId: 's-1',
      view: view({
        status: 'idle',
        messagesIn: 1,
        messagesOut: 1,
        delivered: 1,
        state: { container: 'idle', poller: 'polling' },
        lastEvent: 'container.observed',
      }),
    },
    {
      index: 8,
      sessionId: 's-2',
      view: view({ queued: 1, state: { mailbox: 'committing' }, lastEvent: 'mailbox.enqueue' }),
    },
    { index: 9, sessionId: 's-2', view: view({ messagesIn: 1, failed: 1, lastEvent: 'mailbox.committed' }) },
  ],
  sessions: [
    { id: 's-1', agentGroupId: 'ag-main', messagingGroupId: 'mg-slack', threadId: null, mode: 'shared' },
    { id: 's-2', agentGroupId: 'ag-main', messagingGroupId: 'mg-tg', threadId: 'topic-1', mode: 'per-thread' },
  ],
  divergence: null,
};

export const divergentTimeline: ReplayTimeline = {
  ...timeline,
  divergence: {
    index: 9,
    line: 11,
    what: 'commit results differ',
    expected: [{ ok: true, value: { seq: 2 } }],
    actual: [{ ok: true, value: { seq: 4 } }],
  },
};
