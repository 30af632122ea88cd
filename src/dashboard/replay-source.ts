/**
 * `replaySource(timeline)`: the dashboard over a recorded event log, at any record the page
 * points at. The timeline (`buildReplayTimeline`, src/eventlog/replay-timeline.ts) holds each session's view after every record
 * that changed it; this source answers "as it was at record i" by binary search.
 *
 * Invariants (guarded by test/dashboard/replay-source.test.ts):
 * 1. A session exists from the first record that names it (or its first change, if earlier); at
 *    cursor `i` its row and state are those of its last change at or before `i`.
 * 2. Every read costs O(sessions × log changes-per-session) at worst and does no I/O: the log was
 *    replayed once, up front.
 * 3. `seek` never returns the index it started from, and `null` past either end.
 * 4. The cursor is a record's position, which must equal its `index` (checked up front).
 */
import { RuntimeError } from '../errors.js';
import type { ReplaySessionView, ReplayTimeline } from '../eventlog/replay-timeline.js';
import {
  rowMatcher,
  type DashboardSource,
  type DetailTransition,
  type ReplayAccess,
  type ReplayRecord,
  type SeekKind,
  type SessionDetail,
  type SessionPage,
  type SessionQuery,
  type SessionRow,
} from './source.js';

export interface ReplaySourceOptions {
  /** Page title (default `replay`). */
  title?: string;
}

/** How many of a session's records the detail lists (the latest up to the cursor). */
const DETAIL_RECORDS = 12;

/** Index in sorted `values` of the last value ≤ `at`, or -1. */
function lastAtOrBefore(values: number[], at: number): number {
  let lo = 0;
  let hi = values.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((values[mid] as number) <= at) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** The next value after `from` (dir 1) or before it (dir -1) in sorted `values`, or `null`. */
function step(values: number[], from: number, dir: 1 | -1): number | null {
  const i = lastAtOrBefore(values, from);
  if (dir === 1) return values[i + 1] ?? null;
  const before = values[i] === from ? i - 1 : i;
  return before >= 0 ? (values[before] as number) : null;
}

interface SessionTrack {
  info: ReplayTimeline['sessions'][number];
  /** First record index at which the session exists. */
  from: number;
  /** Indices of its changes, ascending, and the views after them. */
  changeIndex: number[];
  views: ReplaySessionView[];
  /** Indices of the records that name it, ascending. */
  recordIndex: number[];
}

const REGIONS = ['container', 'poller', 'mailbox'] as const;

/** A dashboard source over a replayed log; the page passes the record index as `at`. */
export function replaySource(timeline: ReplayTimeline, options: ReplaySourceOptions = {}): DashboardSource {
  const count = timeline.records.length;
  timeline.records.forEach((r, i) => {
    if (r.index !== i) throw new RuntimeError('INVALID_INPUT', `timeline record ${i} carries index ${r.index}`);
  });
  const infos = new Map(timeline.sessions.map((s) => [s.id, s] as const));
  const tracks = new Map<string, SessionTrack>();
  const order: string[] = [];
  const track = (id: string): SessionTrack => {
    let t = tracks.get(id);
    if (t === undefined) {
      const info = infos.get(id) ?? {
        id,
        agentGroupId: '',
        messagingGroupId: null,
        threadId: null,
        mode: null,
      };
      t = { info, from: Number.POSITIVE_INFINITY, changeIndex: [], views: [], recordIndex: [] };
      tracks.set(id, t);
      order.push(id);
    }
    return t;
  };
  for (const s of timeline.sessions) track(s.id);
  for (const r of timeline.records) {
    if (r.sessionId === null) continue;
    const t = track(r.sessionId);
    t.recordIndex.push(r.index);
    if (r.index < t.from) t.from = r.index;
  }
  // Record indices where the chart changes for some session: its first view, or a new state.
  const chartChanges = new Set<number>();
  for (const c of timeline.changes) {
    const t = track(c.sessionId);
    const previous = t.views.at(-1);
    if (previous === undefined || REGIONS.some((r) => previous.state[r] !== c.view.state[r])) chartChanges.add(c.index);
    t.changeIndex.push(c.index);
    t.views.push(c.view);
    if (c.index < t.from) t.from = c.index;
  }
  const transitionIndex = [...chartChanges].sort((a, b) => a - b);
  const clamp = (at: number | undefined) => Math.min(Math.max(at ?? count - 1, 0), Math.max(count - 1, 0));

  const viewAt = (t: SessionTrack, at: number): { view: ReplaySessionView; index: number } | null => {
    const i = lastAtOrBefore(t.changeIndex, at);
    return i < 0 ? null : { view: t.views[i] as ReplaySessionView, index: t.changeIndex[i] as number };
  };
  const rowAt = (t: SessionTrack, at: number): SessionRow => {
    const v = viewAt(t, at);
    return {
      id: t.info.id,
      mode: t.info.mode,
      agentGroupId: t.info.agentGroupId,
      messagingGroupId: t.info.messagingGroupId,
      threadId: t.info.threadId,
      status: v?.view.status === 'closed' ? 'closed' : 'active',
      containerStatus: v === null ? 'stopped' : v.view.status === 'closed' ? 'stopped' : v.view.status,
      queued: v?.view.queued ?? 0,
      messagesIn: v?.view.messagesIn ?? 0,
      messagesOut: v?.view.messagesOut ?? 0,
      failed: v?.view.failed ?? 0,
      lastActive: null,
      lastChange: v?.index ?? null,
    };
  };

  const replay: ReplayAccess = {
    count,
    divergence: timeline.divergence,
    records(offset, limit) {
      return timeline.records.slice(Math.max(0, offset), Math.max(0, offset) + Math.max(0, limit));
    },
    seek(from: number, kind: SeekKind, dir: 1 | -1, sessionId?: string): number | null {
      if (kind === 'record') {
        const to = from + dir;
        return to >= 0 && to < count ? to : null;
      }
      if (kind === 'transition') return step(transitionIndex, from, dir);
      const t = sessionId === undefined ? undefined : tracks.get(sessionId);
      return t === undefined ? null : step(t.changeIndex, from, dir);
    },
  };

  return {
    kind: 'replay',
    title: options.title ?? 'replay',
    replay,
    sessions(query: SessionQuery): SessionPage {
      const at = clamp(query.at);
      const matches = rowMatcher(query);
      let total = 0;
      const rows: SessionRow[] = [];
      for (const id of order) {
        const t = tracks.get(id) as SessionTrack;
        if (t.from > at) continue;
        const row = rowAt(t, at);
        if (!matches(row)) continue;
        if (total >= query.offset && rows.length < query.limit) rows.push(row);
        total++;
      }
      return { total, offset: query.offset, rows };
    },
    session(id: string, at?: number): SessionDetail | undefined {
      const t = tracks.get(id);
      const cursor = clamp(at);
      if (t === undefined || t.from > cursor) return undefined;
      const current = viewAt(t, cursor);
      const transitions: DetailTransition[] = [];
      const upTo = lastAtOrBefore(t.changeIndex, cursor);
      for (let i = 0; i <= upTo; i++) {
        const view = t.views[i] as ReplaySessionView;
        const previous = i > 0 ? (t.views[i - 1] as ReplaySessionView) : null;
        const index = t.changeIndex[i] as number;
        const reason = timeline.records[index]?.summary ?? null;
        for (const region of REGIONS) {
          const from = previous?.state[region] ?? null;
          if (from === view.state[region]) continue;
          transitions.push({
            at: null,
            index,
            region,
            from: from ?? '',
            to: view.state[region],
            event: view.lastEvent,
            reason,
          });
        }
      }
      const lastRecord = lastAtOrBefore(t.recordIndex, cursor);
      const records = t.recordIndex
        .slice(Math.max(0, lastRecord + 1 - DETAIL_RECORDS), lastRecord + 1)
        .map((i) => timeline.records[i] as ReplayRecord);
      return {
        row: rowAt(t, cursor),
        state: current === null ? null : { ...current.view.state },
        stateComplete: current !== null,
        delivered: current?.view.delivered ?? 0,
        container: null,
        transitions: transitions.slice(-50),
        deliveries: [],
        records,
      };
    },
    onChange() {
      // A recorded log never changes: the page moves the cursor itself.
      return () => undefined;
    },
  };
}
