/**
 * Human-readable views of an event log, for `session-actors replay`: one line per record, a
 * summary of transitions, a divergence report. Pure functions of their arguments (no I/O, no
 * clock), unit-tested in test/cli/timeline.test.ts.
 */
import type { LogHeader, LogRecord, Transition } from './format.js';
import type { Divergence } from './replay.js';

export interface TimelineEntry {
  /** Milliseconds since the header's `startedAt`, when the record carries a clock reading. */
  offsetMs: number | null;
  /** The session the record is about, when there is one (full id). */
  sessionId: string | null;
  /** One-line description; session ids in it are shortened with `shortId`. */
  text: string;
  /** Routine machinery (commit turns, poll timers, quiet polls, observations): hidden unless verbose. */
  noise: boolean;
}

export interface DescribeContext {
  /** The method of call number `c`, so a `ret` can name it. */
  methodOf?(c: number): string | undefined;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const prop = (v: unknown, key: string): unknown => (isObj(v) ? v[key] : undefined);

/** JSON on one line, cut to `max` characters (`…` marks a cut). */
export function compactJSON(value: unknown, max = 1000): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text;
}

/** A string as is, anything else as short JSON: log arguments may be whatever a caller passed. */
function str(value: unknown, max = 40): string {
  return typeof value === 'string' ? value : compactJSON(value, max);
}

/** `sess-1795536173778-k6ijd5` → `sess…ijd5`; ids of up to 10 characters stay whole. */
export function shortId(id: unknown): string {
  if (typeof id !== 'string') return str(id, 20);
  if (id.length <= 10) return id;
  const dash = id.indexOf('-');
  const prefix = dash > 0 && dash <= 8 ? id.slice(0, dash) : id.slice(0, 4);
  return `${prefix}…${id.slice(-4)}`;
}

/** `+1.234s` from a number of milliseconds; empty for null. */
export function formatOffset(ms: number | null): string {
  if (ms === null) return '';
  const sign = ms < 0 ? '-' : '+';
  return `${sign}${(Math.abs(ms) / 1000).toFixed(3)}s`;
}

/** The clock reading a record carries: a call's `at`, an event's `at` or its output's `at`. */
export function recordTime(record: LogRecord): number | null {
  if (record.k === 'call') return typeof record.at === 'number' ? record.at : null;
  if (record.k !== 'ev') return null;
  const e = record.e as Obj;
  if (typeof e.at === 'number') return e.at;
  const outputAt = prop(e.output, 'at');
  if (typeof outputAt === 'number') return outputAt;
  const op = Array.isArray(e.ops) ? e.ops[0] : e.op;
  const payloadAt = prop(prop(op, 'payload'), 'at');
  return typeof payloadAt === 'number' ? payloadAt : null;
}

function describeCall(m: string, a: unknown[]): string {
  const [a0, a1, a2] = Array.isArray(a) ? a : [];
  switch (m) {
    case 'upsertAgentGroup':
      return `${str(prop(a0, 'id'))}`;
    case 'upsertMessagingGroup':
      return `${str(prop(a0, 'id'))} (${str(prop(a0, 'channelType'))} ${str(prop(a0, 'platformId'))})`;
    case 'resolveSession': {
      const mg = prop(a0, 'messagingGroupId');
      const thread = prop(a0, 'threadId');
      const where = `${str(prop(a0, 'agentGroupId'))}/${mg === null ? '-' : str(mg)}`;
      return `${where}${typeof thread === 'string' ? ` thread ${thread}` : ''} (${str(prop(a0, 'mode'))})`;
    }
    case 'writeMessage':
    case 'writeOutboundDirect':
      return `${shortId(a0)} ${str(prop(a1, 'id'))}`;
    case 'writeSystemResponse':
      return `${shortId(a0)} ${str(a1)} ${str(a2)}`;
    case 'readOutboxFiles':
      return `${shortId(a0)} ${str(a1)} [${Array.isArray(a2) ? a2.map((f) => str(f)).join(', ') : str(a2)}]`;
    case 'clearOutbox':
      return `${shortId(a0)} ${str(a1)}`;
    case 'stop':
      return `${shortId(a0)}${typeof a1 === 'string' ? ` (${a1})` : ''}`;
    default:
      if (typeof a0 === 'string') return shortId(a0);
      return a === undefined || (Array.isArray(a) && a.length === 0) ? '' : compactJSON(a, 60);
  }
}

function describeValue(m: string | undefined, v: unknown): string {
  if (v === undefined) return 'ok';
  switch (m) {
    case 'writeMessage':
      return `seq ${str(prop(v, 'seq'))}${prop(v, 'duplicate') === true ? ' (duplicate)' : ''}`;
    case 'resolveSession':
      return `${shortId(prop(prop(v, 'session'), 'id'))} (${prop(v, 'created') === true ? 'created' : 'existing'})`;
    case 'writeSystemResponse':
      return `${str(prop(v, 'id'))} seq ${str(prop(v, 'seq'))}`;
    default:
      return compactJSON(v, 60);
  }
}

function opDetail(op: unknown): string {
  const kind = str(prop(op, 'kind'));
  const payload = prop(op, 'payload');
  switch (kind) {
    case 'writeMessage':
      return `${kind} ${str(prop(prop(payload, 'message'), 'id'))}`;
    case 'writeOutboundDirect':
      return `${kind} ${str(prop(prop(payload, 'message'), 'id'))}`;
    case 'recordDelivery': {
      const record = prop(payload, 'record');
      return `${kind} ${str(prop(record, 'messageOutId'))} ${str(prop(record, 'status'))}`;
    }
    case 'readOutbox': {
      const files = prop(payload, 'filenames');
      return `${kind} ${str(prop(payload, 'messageId'))} [${Array.isArray(files) ? files.map((f) => str(f)).join(', ') : ''}]`;
    }
    case 'clearOutbox':
      return `${kind} ${str(prop(payload, 'messageId'))}`;
    case 'writeRouting': {
      const routing = prop(payload, 'routing');
      return `${kind} ${str(prop(routing, 'channelType'))} ${str(prop(routing, 'platformId'))}`;
    }
    default:
      return kind;
  }
}

/** `writeMessage×2, pollOutbound`: kinds in order of first appearance, with counts. */
function kindCounts(kinds: string[]): string {
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([k, n]) => (n > 1 ? `${k}×${n}` : k)).join(', ');
}

function describeCommit(s: string, committed: unknown): { text: string; noise: boolean } {
  const results = prop(committed, 'results');
  if (!Array.isArray(results)) return { text: `commit ${s}`, noise: false };
  const kinds = results.map((r) => str(prop(r, 'kind')));
  const failed = results.filter((r) => prop(r, 'ok') !== true);
  let toDeliver = 0;
  for (const r of results) {
    const undelivered = prop(prop(r, 'value'), 'undelivered');
    if (Array.isArray(undelivered)) toDeliver += undelivered.length;
  }
  let text = `commit ${s}: ${results.length} op${results.length === 1 ? '' : 's'} (${kindCounts(kinds)})`;
  if (toDeliver > 0) text += `, ${toDeliver} outbound to deliver`;
  if (failed.length > 0) {
    const codes = failed.map((r) => {
      const error = prop(r, 'error');
      return str(prop(error, '$error') ?? prop(error, 'code') ?? 'error');
    });
    text += `, ${failed.length} failed (${kindCounts(codes)})`;
  }
  // Quiet polls (and barriers) are the heartbeat of a running session: routine.
  const noise = failed.length === 0 && toDeliver === 0 && kinds.every((k) => k === 'pollOutbound' || k === 'barrier');
  return { text, noise };
}

/** `xstate.done.actor.0.session.container.starting` → `container.starting`. */
function invokedState(type: string, prefix: string): string {
  const rest = type.slice(prefix.length);
  const at = rest.indexOf('session.');
  return at === -1 ? rest : rest.slice(at + 'session.'.length);
}

function describeEvent(s: string, e: Obj): { text: string; noise: boolean } {
  const type = str(e.type);
  const visible = (text: string) => ({ text, noise: false });
  if (type.startsWith('xstate.done.actor.')) {
    const state = invokedState(type, 'xstate.done.actor.');
    if (state === 'container.starting') return visible(`started ${s}: container up`);
    if (state === 'container.stopping') return visible(`stop done ${s}: waiting for the exit`);
    return visible(`done ${s} ${state}`);
  }
  if (type.startsWith('xstate.error.actor.')) {
    const state = invokedState(type, 'xstate.error.actor.');
    const message = prop(e.error, 'message') ?? prop(e.error, '$error') ?? e.error;
    const what =
      state === 'container.starting'
        ? 'start failed'
        : state === 'container.stopping'
          ? 'stop failed'
          : `${state} failed`;
    return visible(`${what} ${s}: ${str(message, 120)}`);
  }
  if (type.startsWith('xstate.after.')) {
    const delay = type.slice('xstate.after.'.length).split('.')[0] ?? '';
    if (delay === 'pollMs') return { text: `poll timer ${s}`, noise: true };
    if (delay === 'idleStopMs') return visible(`idle timeout ${s}`);
    if (delay === 'passivateMs') return visible(`passivation timer ${s}`);
    return visible(`timer ${delay} ${s}`);
  }
  switch (type) {
    case 'mailbox.enqueue': {
      // One operation (`op`), or a same-turn burst of them (`ops`, in call order).
      if (!Array.isArray(e.ops)) return visible(`enqueue ${s} ${opDetail(e.op)}`);
      const shown = e.ops.slice(0, 4).map(opDetail).join(', ');
      const more = e.ops.length > 4 ? `, … ${e.ops.length - 4} more` : '';
      return visible(`enqueue ${s} ${e.ops.length} ops: ${shown}${more}`);
    }
    case 'mailbox.turn':
      return { text: `commit turn ${s}`, noise: true };
    case 'mailbox.committed':
      return describeCommit(s, e);
    case 'container.wake':
      return visible(`wake ${s}${e.reason === undefined ? '' : ` (${str(e.reason)})`}`);
    case 'container.stop':
      return visible(`stop ${s} (${str(e.reason)})`);
    case 'container.exited':
      return visible(
        typeof e.signal === 'string' ? `exited ${s} on ${e.signal}` : `exited ${s} code ${str(e.code ?? null)}`,
      );
    case 'container.observed':
      return { text: `observed ${s}: ${e.busy === true ? 'busy' : 'no claimed or due work'}`, noise: true };
    case 'session.close':
      return visible(`close ${s}`);
    case 'session.quietCheck':
      return { text: `quiet check ${s}`, noise: true };
    default:
      return visible(`event ${s} ${type}`);
  }
}

/** One timeline line for one log record. Pure: the same record and header give the same entry. */
export function describeRecord(record: LogRecord, header: LogHeader, context: DescribeContext = {}): TimelineEntry {
  const at = recordTime(record);
  const offsetMs = at === null || typeof header.startedAt !== 'number' ? null : at - header.startedAt;
  const entry = (sessionId: unknown, text: string, noise = false): TimelineEntry => ({
    offsetMs,
    sessionId: typeof sessionId === 'string' ? sessionId : null,
    text,
    noise,
  });
  switch (record.k) {
    case 'call': {
      const args = describeCall(record.m, record.a);
      const first = Array.isArray(record.a) ? record.a[0] : undefined;
      const sessionId =
        typeof first === 'string' && !record.m.startsWith('upsert') && record.m !== 'resolveSession' ? first : null;
      return entry(sessionId, `call ${record.m}${args === '' ? '' : ` ${args}`}`);
    }
    case 'ret': {
      const m = context.methodOf?.(record.c);
      const name = `ret ${m === undefined ? '' : `${m} `}#${record.c}`;
      if (!record.ok) {
        const err = record.err as { code?: unknown; message?: unknown } | undefined;
        return entry(null, `${name} failed: ${str(err?.code)} ${str(err?.message, 120)}`);
      }
      return entry(null, `${name}: ${describeValue(m, record.v)}`);
    }
    case 'id':
      return entry(null, `minted ${record.p} id ${record.v}`);
    case 'activate':
      return entry(record.s, `activate ${shortId(record.s)} (agent group ${str(record.ag)})`);
    case 'passivate':
      return entry(record.s, `passivate ${shortId(record.s)}`);
    case 'reconcile':
      return entry(record.s, `reconcile ${shortId(record.s)}: ${str(record.from)} → stopped (no live container)`);
    case 'tr': {
      const s = shortId(record.sessionId);
      if (record.to === 'created' || record.to === 'closed')
        return entry(record.sessionId, `→ ${s} ${record.to} (${record.reason})`);
      return entry(record.sessionId, `→ ${s} ${record.from} → ${record.to} (${record.reason})`);
    }
    case 'end':
      return entry(null, `end of run: digest ${record.digest}`);
    case 'ev': {
      const e = isObj(record.e) ? record.e : { type: String(record.e) };
      const { text, noise } = describeEvent(shortId(record.s), e);
      return entry(record.s, text, noise);
    }
    default:
      return entry(null, `unknown record ${compactJSON(record, 120)}`);
  }
}

/** `   42  +0.062s  call writeMessage sess…ab12 m1`: the log line number, the time, the text. */
export function formatEntry(line: number, entry: TimelineEntry, lineWidth = 6): string {
  return `${String(line).padStart(lineWidth)}  ${formatOffset(entry.offsetMs).padStart(10)}  ${entry.text}`;
}

/**
 * The transitions, summarised: how many of each kind, then per session its path
 * (`created (shared), stopped → running → idle → stopped`), at most `maxSessions` sessions.
 */
export function summarizeTransitions(transitions: readonly Transition[], maxSessions = 20): string[] {
  const lines: string[] = [];
  const kinds = new Map<string, number>();
  const paths = new Map<string, string[]>();
  for (const t of transitions) {
    const kind = t.to === 'created' || t.to === 'closed' ? t.to : `${t.from} → ${t.to}`;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    let path = paths.get(t.sessionId);
    if (path === undefined) paths.set(t.sessionId, (path = []));
    if (t.to === 'created' || t.to === 'closed') path.push(`${t.to} (${t.reason})`);
    else if (path.length > 0 && path.at(-1)!.endsWith(` ${t.from}`)) path[path.length - 1] += ` → ${t.to}`;
    else path.push(`${t.from} → ${t.to}`);
  }
  lines.push(
    `transitions: ${transitions.length}${kinds.size === 0 ? '' : ` (${[...kinds].map(([k, n]) => `${k} ×${n}`).join(', ')})`}`,
  );
  const width = Math.max(0, ...[...paths.keys()].slice(0, maxSessions).map((id) => id.length));
  for (const [id, path] of [...paths].slice(0, maxSessions)) lines.push(`  ${id.padEnd(width)}  ${path.join(', ')}`);
  if (paths.size > maxSessions) lines.push(`  … and ${paths.size - maxSessions} more sessions`);
  return lines;
}

/** The divergence report: where, what, expected vs actual, and the log line itself. */
export function formatDivergence(divergence: Divergence, logPath: string, logLine?: string, max = 1000): string[] {
  const lines = [
    `replay DIVERGES from the recorded run at line ${divergence.line} of ${logPath}`,
    `  what:     ${divergence.what}`,
    `  expected: ${compactJSON(divergence.expected, max)}`,
    `  actual:   ${compactJSON(divergence.actual, max)}`,
  ];
  if (logLine !== undefined)
    lines.push(`  line ${divergence.line}: ${logLine.length > max ? `${logLine.slice(0, max - 1)}…` : logLine}`);
  return lines;
}
