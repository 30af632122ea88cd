/**
 * `describeSession`: one session as a dashboard shows it, from what the runtime holds in memory
 * and the session's central row — no session file is opened.
 */
import type { SessionActor } from './session-actor.js';
import type { SessionJournal } from './session-journal.js';
import type { ContainerInfo } from './supervisor.js';
import type { SessionInfo, SessionMode, SessionView } from './types.js';

export function describeSession(input: {
  session: SessionInfo;
  mode: SessionMode | undefined;
  actor: SessionActor | undefined;
  journal: SessionJournal;
  container: ContainerInfo | undefined;
  heartbeatSeenAt: number | undefined;
  now: number;
}): SessionView {
  const { session, actor, journal, container } = input;
  const value = actor === undefined ? undefined : journal.state(session.id);
  return {
    session,
    mode: input.mode,
    state:
      value === undefined
        ? null
        : { container: value.container ?? '', poller: value.poller ?? '', mailbox: value.mailbox ?? '' },
    queued: actor?.outstanding ?? 0,
    counts: null,
    container:
      container === undefined
        ? null
        : {
            pid: container.pid,
            startedAt: new Date(container.startedAt).toISOString(),
            heartbeatAgeMs: input.heartbeatSeenAt === undefined ? null : input.now - input.heartbeatSeenAt,
          },
    transitions: journal.recentTransitions(session.id),
    deliveries: journal.recentDeliveries(session.id),
  };
}
