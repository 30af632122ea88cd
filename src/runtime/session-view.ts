/**
 * `describeSession`: one session as a dashboard shows it, from what the runtime holds in memory
 * and the session's central row — no session file is opened.
 */
import type { SessionActor } from './session-actor.js';
import type { JournalDelivery, JournalTransition, SessionJournal } from './session-journal.js';
import type { ContainerInfo } from './supervisor.js';
import type { SessionInfo, SessionMode } from './types.js';

export interface SessionView {
  session: SessionInfo;
  mode: SessionMode | undefined;
  /** The state of each region of the session's actor; null when the actor is not live. */
  state: { container: string; poller: string; mailbox: string } | null;
  /** Operations queued, committing or awaited. */
  queued: number;
  /** Row counts, when known without opening files (see `messageCounts` for exact ones). */
  counts: { messagesIn: number; messagesOut: number; delivered: number; failed: number } | null;
  container: { pid: number | null; startedAt: string | null; heartbeatAgeMs: number | null } | null;
  /** Recent state changes of the container and poller regions, oldest first (at most 50). */
  transitions: JournalTransition[];
  /** Recent delivery outcomes, oldest first (at most 20). */
  deliveries: JournalDelivery[];
}

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
