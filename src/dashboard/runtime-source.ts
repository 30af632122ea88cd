/**
 * `runtimeSource(rt)`: the dashboard's view of a live runtime (or a read-only observer of one),
 * read only through the runtime's public API.
 *
 * Invariants (guarded by test/dashboard/runtime-source.test.ts):
 * 1. Rows are cached and refreshed only for sessions an event named (plus a periodic re-list,
 *    which catches what no event reports, e.g. another process's `last_active`), so a query over
 *    10,000 sessions filters cached rows and asks the runtime about the page's rows only.
 * 2. With `describeSession` (feature-detected), counts, queue, the state of every region, the
 *    container's pid and heartbeat, transitions and deliveries come from the runtime. Without it,
 *    they degrade: the state of every region, the queue and the transitions of live actors from
 *    the runtime's inspection stream (`rt.inspect`, when there is one), otherwise the container
 *    region from the status; deliveries from the events seen since the source was created;
 *    unknown columns `null`.
 * 3. Listeners are removed and the timer cleared by `dispose()`; a runtime closing underneath
 *    stops the periodic re-list instead of throwing from a timer.
 * 4. Message counts the view does not carry are asked of `messageCounts` (a read through the
 *    session's mailbox, off the event loop) for the rows a page shows and the selected session
 *    only: once when first shown, again after an event says they changed, never more than one
 *    request per session in flight; a page is answered at once with what is known and the rows
 *    are announced again when their counts arrive ("counts the rows of the page it shows").
 */
import type { InspectionEvent } from 'xstate';
import type { Runtime } from '../runtime/runtime.js';
import type { MessageCounts, SessionInfo } from '../runtime/types.js';
import {
  rowMatcher,
  type DashboardSource,
  type DetailDelivery,
  type DetailTransition,
  type SessionDetail,
  type SessionPage,
  type SessionQuery,
  type SessionRow,
  type SessionView,
} from './source.js';

/** The part of the runtime this source uses; `describeSession` arrives later and is optional. */
export type DescribableRuntime = Pick<Runtime, 'listSessions' | 'getSession' | 'sessionMode' | 'on' | 'off'> & {
  describeSession?: (sessionId: string) => SessionView | undefined;
  messageCounts?: (sessionId: string) => Promise<MessageCounts>;
  inspect?: (observer: (event: InspectionEvent) => void) => { unsubscribe(): void };
};

/** Inspection ids of session actors: `session:<sessionId>`. */
const SESSION_ACTOR = 'session:';

/** What the inspection stream tells about a live session actor. */
interface LiveActor {
  state: Record<string, string>;
  queued: number;
}

/** The region states and queue length of a session actor's snapshot, if it is one. */
function readSnapshot(snapshot: unknown): LiveActor | undefined {
  const s = snapshot as { value?: unknown; context?: { queue?: unknown; inFlight?: unknown } } | null;
  if (typeof s?.value !== 'object' || s.value === null) return undefined;
  const state: Record<string, string> = {};
  for (const [region, value] of Object.entries(s.value as Record<string, unknown>)) {
    if (typeof value !== 'string') return undefined;
    state[region] = value;
  }
  const length = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  return { state, queued: length(s.context?.queue) + length(s.context?.inFlight) };
}

export interface RuntimeSourceOptions {
  /** Page title (default `session-actors`). */
  title?: string;
  /** Re-list every session this often (ms) to catch changes no event reports; 0 turns it off. Default 3000. */
  refreshMs?: number;
  /** Wall-clock time for the transitions and deliveries recorded from events (default `Date.now`). */
  now?: () => number;
}

/** Transitions kept per session and region: a busy mailbox cannot push the container's history out. */
const MAX_TRANSITIONS_PER_REGION = 25;
const MAX_DELIVERIES = 20;

function push<T>(map: Map<string, T[]>, id: string, item: T, max: number): void {
  let list = map.get(id);
  if (list === undefined) map.set(id, (list = []));
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

const sameInfo = (a: SessionInfo, b: SessionInfo) =>
  a.status === b.status && a.containerStatus === b.containerStatus && a.lastActive === b.lastActive;

/** A dashboard source over a runtime: sessions, their details, and change notifications. */
export function runtimeSource(rt: DescribableRuntime, options: RuntimeSourceOptions = {}): DashboardSource {
  const now = options.now ?? Date.now;
  const describe = typeof rt.describeSession === 'function' ? rt.describeSession.bind(rt) : undefined;
  const order: string[] = [];
  const infos = new Map<string, SessionInfo>();
  const rows = new Map<string, SessionRow>();
  const modes = new Map<string, string | null>();
  const dirty = new Set<string>();
  /** Per session, per region, the latest transitions with their arrival order. */
  const transitions = new Map<string, Map<string, { seq: number; t: DetailTransition }[]>>();
  let seq = 0;
  const record = (id: string, t: DetailTransition) => {
    let regions = transitions.get(id);
    if (regions === undefined) transitions.set(id, (regions = new Map()));
    push(regions, t.region, { seq: seq++, t }, MAX_TRANSITIONS_PER_REGION);
  };
  /** A session's transitions over all regions, oldest first. */
  const history = (id: string): DetailTransition[] =>
    [...(transitions.get(id)?.values() ?? [])]
      .flat()
      .sort((a, b) => a.seq - b.seq)
      .map((x) => ({ ...x.t }));
  const deliveries = new Map<string, DetailDelivery[]>();
  const listeners = new Set<(ids: string[]) => void>();
  const live = new Map<string, LiveActor>();
  /** A status change's reason that arrived before the inspection stream showed the change. */
  const reasons = new Map<string, { to: string; reason: string }>();
  /** Invariant 4: counts known per session, those an event made stale, requests in flight. */
  const counts = new Map<string, MessageCounts>();
  const staleCounts = new Set<string>();
  const counting = new Set<string>();
  let disposed = false;
  const countsOf = (id: string): MessageCounts | undefined => {
    if (rt.messageCounts !== undefined && !counting.has(id) && (!counts.has(id) || staleCounts.has(id))) {
      counting.add(id);
      staleCounts.delete(id);
      rt.messageCounts(id).then(
        (c) => {
          counting.delete(id);
          counts.set(id, c);
          if (!disposed) notify([id]);
        },
        () => void counting.delete(id), // closed or unknown: the counts stay unknown
      );
    }
    return counts.get(id);
  };

  const notify = (ids: string[]) => {
    for (const cb of listeners) cb(ids);
  };
  const remember = (info: SessionInfo) => {
    if (!infos.has(info.id)) order.push(info.id);
    infos.set(info.id, info);
    rows.delete(info.id);
  };
  const modeOf = (id: string): string | null => {
    let mode = modes.get(id);
    if (mode === undefined) modes.set(id, (mode = rt.sessionMode(id) ?? null));
    return mode;
  };
  const refreshDirty = () => {
    for (const id of dirty) {
      const info = rt.getSession(id);
      if (info !== undefined) remember(info);
    }
    dirty.clear();
  };
  const baseRow = (id: string): SessionRow => {
    let row = rows.get(id);
    if (row !== undefined) return row;
    const s = infos.get(id) as SessionInfo;
    row = {
      id: s.id,
      mode: modeOf(s.id),
      agentGroupId: s.agentGroupId,
      messagingGroupId: s.messagingGroupId,
      threadId: s.threadId,
      status: s.status,
      containerStatus: s.containerStatus,
      queued: null,
      messagesIn: null,
      messagesOut: null,
      failed: null,
      lastActive: s.lastActive,
      lastChange: null,
    };
    rows.set(id, row);
    return row;
  };
  const withCounts = (row: SessionRow, c: MessageCounts | null | undefined): SessionRow =>
    c === null || c === undefined
      ? row
      : { ...row, messagesIn: c.messagesIn, messagesOut: c.messagesOut, failed: c.failed };
  const withView = (row: SessionRow, view: SessionView | undefined): SessionRow =>
    view === undefined
      ? withCounts(row, countsOf(row.id))
      : withCounts(
          {
            ...row,
            containerStatus: view.session.containerStatus,
            lastActive: view.session.lastActive,
            queued: view.queued,
          },
          view.counts ?? countsOf(row.id),
        );

  for (const info of rt.listSessions()) remember(info);

  const changed = (id: string) => {
    dirty.add(id);
    notify([id]);
  };
  const countsChanged = (id: string) => {
    if (counts.has(id)) staleCounts.add(id);
    changed(id);
  };
  const handlers = {
    'session.created': (e: { session: SessionInfo }) => {
      remember(e.session);
      notify([e.session.id]);
    },
    'session.closed': (e: { sessionId: string }) => changed(e.sessionId),
    'container.status': (e: { sessionId: string; from: string; to: string; reason: string }) => {
      if (inspection !== undefined) {
        // The inspection stream lists the change (before or after this event): give it its reason.
        const t = transitions
          .get(e.sessionId)
          ?.get('container')
          ?.findLast((x) => x.t.to === e.to)?.t;
        if (t !== undefined && t.reason === null) t.reason = e.reason;
        else reasons.set(e.sessionId, { to: e.to, reason: e.reason });
        changed(e.sessionId);
        return;
      }
      record(e.sessionId, {
        at: new Date(now()).toISOString(),
        index: null,
        region: 'container',
        from: e.from,
        to: e.to,
        event: 'container.status',
        reason: e.reason,
      });
      changed(e.sessionId);
    },
    'message.written': (e: { sessionId: string; duplicate: boolean }) => {
      if (!e.duplicate) countsChanged(e.sessionId);
    },
    'outbound.delivered': (e: { sessionId: string; messageId: string }) => {
      const at = new Date(now()).toISOString();
      const d: DetailDelivery = {
        messageId: e.messageId,
        status: 'delivered',
        at,
        channelType: null,
        platformId: null,
        threadId: null,
        error: null,
      };
      push(deliveries, e.sessionId, d, MAX_DELIVERIES);
      countsChanged(e.sessionId);
    },
    'outbound.failed': (e: { sessionId: string; messageId: string; error: Error }) => {
      const d: DetailDelivery = {
        messageId: e.messageId,
        status: 'failed',
        at: new Date(now()).toISOString(),
        channelType: null,
        platformId: null,
        threadId: null,
        error: e.error instanceof Error ? e.error.message : String(e.error),
      };
      push(deliveries, e.sessionId, d, MAX_DELIVERIES);
      countsChanged(e.sessionId);
    },
  };
  for (const [event, handler] of Object.entries(handlers)) rt.on(event as never, handler as never);

  // Without describeSession, the inspection stream shows every region of every live actor.
  const inspection =
    describe === undefined && typeof rt.inspect === 'function'
      ? rt.inspect((event) => {
          if (event.type !== '@xstate.snapshot') return;
          const actorId = (event.actorRef as { id?: unknown }).id;
          if (typeof actorId !== 'string' || !actorId.startsWith(SESSION_ACTOR)) return;
          const next = readSnapshot(event.snapshot);
          if (next === undefined) return;
          const id = actorId.slice(SESSION_ACTOR.length);
          const previous = live.get(id);
          live.set(id, next);
          let moved = previous === undefined || previous.queued !== next.queued;
          for (const [region, to] of Object.entries(next.state)) {
            const from = previous?.state[region];
            if (from === to) continue;
            moved = true;
            if (from === undefined) continue;
            const at = new Date(now()).toISOString();
            const waiting = region === 'container' ? reasons.get(id) : undefined;
            const reason = waiting?.to === to ? waiting.reason : null;
            if (reason !== null) reasons.delete(id);
            const t: DetailTransition = { at, index: null, region, from, to, event: event.event.type, reason };
            record(id, t);
          }
          if (moved) notify([id]);
        })
      : undefined;

  const refreshMs = options.refreshMs ?? 3000;
  let timer: ReturnType<typeof setInterval> | undefined;
  if (refreshMs > 0) {
    timer = setInterval(() => {
      let listed: SessionInfo[];
      try {
        listed = rt.listSessions();
      } catch {
        // The runtime closed underneath the dashboard: nothing more to watch.
        clearInterval(timer);
        return;
      }
      const ids: string[] = [];
      for (const info of listed) {
        const known = infos.get(info.id);
        if (known !== undefined && sameInfo(known, info)) continue;
        remember(info);
        ids.push(info.id);
      }
      if (ids.length > 0) notify(ids);
    }, refreshMs);
    timer.unref?.();
  }

  return {
    kind: 'live',
    title: options.title ?? 'session-actors',
    sessions(query: SessionQuery): SessionPage {
      refreshDirty();
      const matches = rowMatcher(query);
      const found: SessionRow[] = [];
      for (const id of order) {
        const row = baseRow(id);
        if (matches(row)) found.push(row);
      }
      const page = found.slice(query.offset, query.offset + query.limit);
      return {
        total: found.length,
        offset: query.offset,
        rows: page.map((row) => {
          const actor = live.get(row.id);
          return withView(actor === undefined ? row : { ...row, queued: actor.queued }, describe?.(row.id));
        }),
      };
    },
    session(id: string): SessionDetail | undefined {
      if (dirty.has(id) || !infos.has(id)) {
        const info = rt.getSession(id);
        if (info === undefined) return undefined;
        remember(info);
        dirty.delete(id);
      }
      const view = describe?.(id);
      const actor = live.get(id);
      const row = withView(actor === undefined ? baseRow(id) : { ...baseRow(id), queued: actor.queued }, view);
      if (view !== undefined) {
        return {
          row,
          state: view.state ?? { container: row.containerStatus },
          stateComplete: view.state !== null,
          delivered: (view.counts ?? counts.get(id))?.delivered ?? null,
          container: view.container,
          transitions: view.transitions.map((t) => ({ ...t, index: null })),
          deliveries: view.deliveries,
          records: [],
        };
      }
      return {
        row,
        state: actor === undefined ? { container: row.containerStatus } : { ...actor.state },
        stateComplete: actor !== undefined,
        delivered: counts.get(id)?.delivered ?? null,
        container: null,
        transitions: history(id),
        deliveries: [...(deliveries.get(id) ?? [])],
        records: [],
      };
    },
    onChange(cb) {
      listeners.add(cb);
      return () => void listeners.delete(cb);
    },
    dispose() {
      disposed = true;
      if (timer !== undefined) clearInterval(timer);
      inspection?.unsubscribe();
      for (const [event, handler] of Object.entries(handlers)) rt.off(event as never, handler as never);
      listeners.clear();
    },
  };
}
