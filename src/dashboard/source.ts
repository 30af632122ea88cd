/**
 * What the dashboard shows, as an interface: a source of session rows, session details and change
 * notifications. Two sources implement it: a live runtime (runtime-source.ts) and a recorded event
 * log (replay-source.ts); the HTTP server and the page know nothing else.
 *
 * Rules every source keeps (guarded by test/dashboard/runtime-source.test.ts and
 * test/dashboard/replay-source.test.ts):
 * 1. Reads are synchronous and bounded by the page asked for (`limit`), whatever the number of
 *    sessions: filtering runs over cached rows, details are built for the requested rows only.
 * 2. Everything returned is plain JSON data (no class instances, no `undefined` in arrays).
 * 3. `onChange` reports ids of sessions whose row or detail may have changed; it never calls back
 *    synchronously from inside `onChange` itself, and its returned function unsubscribes.
 */
/** One session as `Runtime.describeSession` shows it (the runtime's own type). */
import type { SessionView } from '../runtime/types.js';
export type { SessionView };

/** One row of the sessions table. Columns a source cannot know are `null`. */
export interface SessionRow {
  id: string;
  mode: string | null;
  agentGroupId: string;
  messagingGroupId: string | null;
  threadId: string | null;
  status: 'active' | 'closed';
  containerStatus: string;
  queued: number | null;
  messagesIn: number | null;
  messagesOut: number | null;
  failed: number | null;
  /** ISO time of the last activity (live), or `null`. */
  lastActive: string | null;
  /** Index of the record of the session's last change (replay), or `null`. */
  lastChange: number | null;
}

export interface SessionQuery {
  /** Space-separated terms; a row matches when every term is a case-insensitive substring of one of its fields. */
  filter?: string;
  /** `running`, `idle`, `stopped` (container status of an active session), `active` or `closed`. */
  status?: string;
  offset: number;
  limit: number;
  /** Replay only: the record index the page is looking at. */
  at?: number;
}

export interface SessionPage {
  /** Rows matching the query, before paging. */
  total: number;
  offset: number;
  rows: SessionRow[];
}

export interface DetailTransition {
  /** ISO time (live) or `null` when only the record index is known (replay). */
  at: string | null;
  /** Replay: index of the record that made the change. */
  index: number | null;
  region: string;
  from: string;
  to: string;
  event: string;
  reason: string | null;
}

export type DetailDelivery = SessionView['deliveries'][number];

/** Everything the page shows about one selected session. */
export interface SessionDetail {
  row: SessionRow;
  /** Current state per region of the session machine (`{ container: 'running', … }`); `null` if unknown. */
  state: Record<string, string> | null;
  /** Whether `state` covers every region (`false`: only what events told, e.g. the container status). */
  stateComplete: boolean;
  delivered: number | null;
  container: SessionView['container'];
  /** Oldest first. */
  transitions: DetailTransition[];
  deliveries: DetailDelivery[];
  /** Replay: the session's latest records up to the cursor, oldest first. */
  records: ReplayRecord[];
}

/** One record of a recorded log, as the replay page lists it. */
export interface ReplayRecord {
  index: number;
  line: number;
  k: string;
  sessionId: string | null;
  summary: string;
}

export interface ReplayDivergence {
  index: number;
  line: number;
  what: string;
  expected: unknown;
  actual: unknown;
}

export type SeekKind = 'record' | 'transition' | 'session';

/** The extra reads of a source over a recorded log: its records and where things change. */
export interface ReplayAccess {
  /** Number of records; valid cursors are `0 … count - 1`. */
  readonly count: number;
  readonly divergence: ReplayDivergence | null;
  records(offset: number, limit: number): ReplayRecord[];
  /**
   * The index to move to from `from` in direction `dir`: the next record, the next record where
   * some session's state on the chart changes, or the next change of `sessionId`; `null` when
   * there is none.
   */
  seek(from: number, kind: SeekKind, dir: 1 | -1, sessionId?: string): number | null;
}

export interface DashboardSource {
  readonly kind: 'live' | 'replay';
  /** Shown as the page title. */
  readonly title: string;
  sessions(query: SessionQuery): SessionPage;
  session(id: string, at?: number): SessionDetail | undefined;
  /** Calls `cb` with ids of sessions that changed; returns the unsubscribe function. */
  onChange(cb: (ids: string[]) => void): () => void;
  /** Present on a replay source. */
  readonly replay?: ReplayAccess;
  /** Releases listeners and timers. */
  dispose?(): void;
}

/** The filter of `SessionQuery` as a predicate over rows (shared by both sources). */
export function rowMatcher(query: Pick<SessionQuery, 'filter' | 'status'>): (row: SessionRow) => boolean {
  const terms = (query.filter ?? '')
    .toLowerCase()
    .split(/\s+/)
    .filter((t) => t !== '');
  const status = query.status ?? '';
  return (row) => {
    if (status !== '') {
      if (status === 'active' || status === 'closed') {
        if (row.status !== status) return false;
      } else if (row.status !== 'active' || row.containerStatus !== status) {
        return false;
      }
    }
    if (terms.length === 0) return true;
    const fields = [row.id, row.mode, row.agentGroupId, row.messagingGroupId, row.threadId, row.containerStatus]
      .filter((f): f is string => f !== null)
      .map((f) => f.toLowerCase());
    return terms.every((term) => fields.some((f) => f.includes(term)));
  };
}
