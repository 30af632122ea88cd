/**
 * `buildReplayTimeline`: what a replay page needs to step through a recorded run record by record
 * or transition by transition — one summary per record, each session's view wherever it changed,
 * the sessions, and the divergence if the replay found one.
 *
 * Invariants (guarded by test/eventlog/replay-timeline.test.ts):
 * 1. It is the replay itself, observed through `onRecord`: states, queues and statuses are those of
 *    the replayed actors after each record, never a second reading of the log.
 * 2. A change is listed at the record after which the view differs from the session's previous
 *    view, so the view of a session at record i is its last change at or before i; at every
 *    recorded container status change (`tr`), that view shows the new status.
 * 3. Counts come from the commits the replay made again: messages written (not duplicates),
 *    delivery records inserted (`delivered` / `failed`), outbound messages seen (rows read from
 *    `outbound.db`, host-originated messages). At the end they equal the replayed data
 *    directory's rows.
 */
import type { OpResult } from '../../machines/session.machine.js';
import type { LogRecord } from './format.js';
import { readLog, type LogSource } from './read-log.js';
import { replayLog, type ReplayCommit, type ReplayStep } from './replay.js';
import { describeRecord } from './timeline.js';

/** A session as the replay page shows it at one point of the run. */
export interface ReplaySessionView {
  /** The state of each region of the session machine (`stopped`, `polling`, `committing`, …). */
  state: { container: string; poller: string; mailbox: string };
  /** Container status (`stopped`, `running`, `idle`), or `closed` once the session is closed. */
  status: string;
  /** Operations queued or being committed. */
  queued: number;
  /** Inbound messages written (duplicates not counted). */
  messagesIn: number;
  /** Outbound messages the host has seen: rows read from `outbound.db` and host-originated ones. */
  messagesOut: number;
  /** Delivery records of delivered messages. */
  delivered: number;
  /** Delivery records of failed deliveries. */
  failed: number;
  /** The type of the last event the session's actor processed, or the last lifecycle record. */
  lastEvent: string;
}

export interface ReplayTimelineRecord {
  index: number;
  line: number;
  k: string;
  sessionId: string | null;
  summary: string;
}

/** A session's view after record `index`, listed only where it changed. */
export interface ReplayTimelineChange {
  index: number;
  sessionId: string;
  view: ReplaySessionView;
}

export interface ReplayTimelineSession {
  id: string;
  agentGroupId: string;
  messagingGroupId: string | null;
  threadId: string | null;
  mode: string | null;
}

export interface ReplayTimeline {
  records: ReplayTimelineRecord[];
  changes: ReplayTimelineChange[];
  sessions: ReplayTimelineSession[];
  divergence: { index: number; line: number; what: string; expected: unknown; actual: unknown } | null;
}

export interface ReplayTimelineOptions {
  /** Where the replay builds its state: a directory that does not exist or is empty. */
  dataDir: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** A session that has no live actor (not activated yet, or passivated) is stopped, off, idle. */
const RESTING = { container: 'stopped', poller: 'off', mailbox: 'idle' } as const;

function regionState(value: unknown): string {
  if (typeof value === 'string') return value;
  if (!isObj(value)) return String(value);
  return Object.entries(value)
    .map(([k, v]) => `${k}.${regionState(v)}`)
    .join(', ');
}

/** The session a record concerns, when it names one. */
function sessionOf(record: LogRecord): string | null {
  switch (record.k) {
    case 'ev':
    case 'activate':
    case 'passivate':
    case 'reconcile':
      return record.s;
    case 'tr':
      return record.sessionId;
    default:
      return null;
  }
}

interface Tally {
  messagesIn: number;
  out: Set<string>;
  delivered: number;
  failed: number;
}

function count(tally: Tally, commit: ReplayCommit): void {
  commit.results.forEach((result: OpResult, i) => {
    if (!result.ok) return;
    const value = result.value;
    const payload = commit.ops[i]?.payload as Obj | undefined;
    switch (result.kind) {
      case 'writeMessage':
        if (isObj(value) && value.duplicate === false) tally.messagesIn++;
        return;
      case 'recordDelivery': {
        const status = isObj(payload?.record) ? payload.record.status : undefined;
        if (value === true && status === 'delivered') tally.delivered++;
        if (value === true && status === 'failed') tally.failed++;
        return;
      }
      case 'pollOutbound': {
        const rows = isObj(value) && isObj(value.snapshot) ? value.snapshot.rows : undefined;
        const undelivered = isObj(value) ? value.undelivered : undefined;
        for (const list of [rows, undelivered]) {
          if (!Array.isArray(list)) continue;
          for (const row of list) if (isObj(row) && typeof row.id === 'string') tally.out.add(row.id);
        }
        return;
      }
      case 'writeOutboundDirect': {
        const id = isObj(payload?.message) ? payload.message.id : undefined;
        if (typeof id === 'string') tally.out.add(id);
        return;
      }
      default:
        return;
    }
  });
}

/**
 * Replays `log` (any `LogSource`) into `options.dataDir` and returns its timeline. Rejects like
 * `replayLog` for a log that cannot be read or a data directory that is not empty.
 */
export async function buildReplayTimeline(log: LogSource, options: ReplayTimelineOptions): Promise<ReplayTimeline> {
  const { header, records: logRecords } = await readLog(log);
  const calls = new Map<number, { m: string; sessionId: string | null; a: unknown[] }>();
  const records: ReplayTimelineRecord[] = logRecords.map((record, index) => {
    let sessionId = sessionOf(record);
    if (record.k === 'call') {
      const first = record.a[0];
      const named = typeof first === 'string' && !record.m.startsWith('upsert') && record.m !== 'resolveSession';
      sessionId = named ? first : null;
      calls.set(record.c, { m: record.m, sessionId, a: record.a });
    } else if (record.k === 'ret') sessionId = calls.get(record.c)?.sessionId ?? null;
    const summary = describeRecord(record, header, { methodOf: (c) => calls.get(c)?.m }).text;
    return { index, line: index + 2, k: record.k, sessionId, summary };
  });

  const sessions = new Map<string, ReplayTimelineSession>();
  const views = new Map<string, ReplaySessionView>();
  const tallies = new Map<string, Tally>();
  const closed = new Set<string>();
  const changes: ReplayTimelineChange[] = [];
  const tallyOf = (id: string): Tally => {
    let t = tallies.get(id);
    if (t === undefined) tallies.set(id, (t = { messagesIn: 0, out: new Set(), delivered: 0, failed: 0 }));
    return t;
  };

  const update = (step: ReplayStep, sessionId: string, lastEvent: string | null): void => {
    const before = views.get(sessionId);
    const snapshot = step.session(sessionId);
    const value = (isObj(snapshot?.value) ? snapshot.value : undefined) as Obj | undefined;
    const tally = tallyOf(sessionId);
    const view: ReplaySessionView = {
      state:
        value === undefined
          ? (before?.state ?? { ...RESTING })
          : {
              container: regionState(value.container),
              poller: regionState(value.poller),
              mailbox: regionState(value.mailbox),
            },
      status: closed.has(sessionId) ? 'closed' : (snapshot?.context.status ?? before?.status ?? 'stopped'),
      queued: snapshot === undefined ? 0 : snapshot.context.queue.length + snapshot.context.inFlight.length,
      messagesIn: tally.messagesIn,
      messagesOut: tally.out.size,
      delivered: tally.delivered,
      failed: tally.failed,
      lastEvent: lastEvent ?? before?.lastEvent ?? '',
    };
    if (before !== undefined && JSON.stringify(before) === JSON.stringify(view)) return;
    views.set(sessionId, view);
    changes.push({ index: step.index, sessionId, view });
  };

  const onRecord = (step: ReplayStep): void => {
    const { record } = step;
    if (step.commit !== null) count(tallyOf(step.commit.sessionId), step.commit);
    switch (record.k) {
      case 'ev':
        update(step, record.s, record.e.type);
        return;
      case 'activate':
        if (!sessions.has(record.s)) {
          sessions.set(record.s, {
            id: record.s,
            agentGroupId: record.ag,
            messagingGroupId: null,
            threadId: null,
            mode: null,
          });
        }
        update(step, record.s, 'activate');
        return;
      case 'passivate':
      case 'reconcile':
        update(step, record.s, record.k);
        return;
      case 'tr':
        if (record.to === 'closed') closed.add(record.sessionId);
        if (record.to === 'created' || record.to === 'closed') update(step, record.sessionId, record.to);
        else update(step, record.sessionId, null);
        return;
      case 'ret': {
        const call = calls.get(record.c);
        if (call?.m !== 'resolveSession' || !record.ok || !isObj(record.v) || record.v.created !== true) return;
        const s = record.v.session;
        if (!isObj(s) || typeof s.id !== 'string') return;
        const mode = isObj(call.a[0]) ? str(call.a[0].mode) : null;
        sessions.set(s.id, {
          id: s.id,
          agentGroupId: str(s.agentGroupId) ?? '',
          messagingGroupId: str(s.messagingGroupId),
          threadId: str(s.threadId),
          mode,
        });
        return;
      }
      default:
        return;
    }
  };

  const result = await replayLog([header, ...logRecords], { dataDir: options.dataDir, onRecord });
  const d = result.divergence;
  return {
    records,
    changes,
    sessions: [...sessions.values()],
    divergence:
      d === null ? null : { index: d.line - 2, line: d.line, what: d.what, expected: d.expected, actual: d.actual },
  };
}
