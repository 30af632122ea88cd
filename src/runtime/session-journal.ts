/**
 * What a dashboard shows of a session beyond its rows: its recent state changes per region (with
 * the event and reason that caused them) and its last deliveries. Kept in memory, bounded, and
 * allocated only for sessions that have any (test/runtime/session-journal.test.ts).
 */
import type { InspectionEvent } from 'xstate';
export interface JournalTransition {
  at: string;
  region: string;
  from: string;
  to: string;
  event: string;
  reason: string | null;
}

export interface JournalDelivery {
  messageId: string;
  status: 'delivered' | 'failed';
  at: string;
  channelType: string | null;
  platformId: string | null;
  threadId: string | null;
  error: string | null;
}

const MAX_TRANSITIONS = 50;
const MAX_DELIVERIES = 20;

function push<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

const SESSION_PREFIX = 'session:';

export class SessionJournal {
  private readonly transitions = new Map<string, JournalTransition[]>();
  private readonly deliveries = new Map<string, JournalDelivery[]>();
  /** Last seen value of each region, per session. */
  private readonly regions = new Map<string, Record<string, string>>();

  /**
   * Feeds the journal from the runtime's inspection stream: each snapshot of a session actor
   * (`session:<id>`) whose state value changed in some region, at the clock reading `now`.
   */
  observeInspection(e: InspectionEvent, now: number): void {
    if (e.type !== '@xstate.snapshot') return;
    const id = (e.actorRef as { id?: unknown }).id;
    if (typeof id !== 'string' || !id.startsWith(SESSION_PREFIX)) return;
    const snapshot = e.snapshot as { value?: unknown; context?: { reason?: unknown } };
    if (typeof snapshot.value !== 'object' || snapshot.value === null) return;
    const value = snapshot.value as Record<string, string>;
    const reason = typeof snapshot.context?.reason === 'string' ? snapshot.context.reason : null;
    this.observe(id.slice(SESSION_PREFIX.length), value, e.event.type, reason, new Date(now).toISOString());
  }

  /** A session actor's new state value: records each region whose state changed. */
  observe(sessionId: string, value: Record<string, string>, event: string, reason: string | null, at: string): void {
    const before = this.regions.get(sessionId);
    this.regions.set(sessionId, value);
    if (before === undefined) return;
    for (const region of Object.keys(value)) {
      // The mailbox cycles with every commit: its depth is shown, its history is not kept.
      if (region === 'mailbox' || before[region] === value[region]) continue;
      let list = this.transitions.get(sessionId);
      if (list === undefined) this.transitions.set(sessionId, (list = []));
      push(list, { at, region, from: before[region] ?? '', to: value[region] ?? '', event, reason }, MAX_TRANSITIONS);
    }
  }

  state(sessionId: string): Record<string, string> | undefined {
    return this.regions.get(sessionId);
  }

  delivery(sessionId: string, d: JournalDelivery): void {
    let list = this.deliveries.get(sessionId);
    if (list === undefined) this.deliveries.set(sessionId, (list = []));
    push(list, d, MAX_DELIVERIES);
  }

  recentTransitions(sessionId: string): JournalTransition[] {
    return [...(this.transitions.get(sessionId) ?? [])];
  }

  recentDeliveries(sessionId: string): JournalDelivery[] {
    return [...(this.deliveries.get(sessionId) ?? [])];
  }

  /** The actor is gone (passivated or closed): its live state is no longer known. */
  dropState(sessionId: string): void {
    this.regions.delete(sessionId);
  }
}
