/**
 * What-if replay: a changed session machine is run beside the replayed one, fed the same recorded
 * events, and each session's first departure from the recorded behaviour is reported — the way
 * Temporal's replayer checks changed workflow code against past histories.
 *
 * The replayed actor (the machine that recorded the log, checked against the log by replay itself)
 * is the recorded behaviour. After every record that reaches a session, the candidate must match it:
 *
 * Invariants (guarded by test/eventlog/what-if.test.ts):
 * 1. Same steps: after each event both have the same state value and asked for the same operations
 *    (status changes and other emitted events, commits and commit turns, container starts and
 *    stops, any other action), in order. An unchanged machine departs on no fixture log.
 * 2. Timers are compared by when they would fire, not by how they are written: time is the
 *    latest clock reading the log holds (calls, commits, starts, exits) and the due time of each
 *    recorded timer as it fires. A candidate timer with no twin in the replayed actor departs at
 *    the first record at which it is due ("would fire earlier"); a recorded timer that fires while
 *    the candidate's is not yet due, or absent, departs at that record. A timer that would only
 *    fire after its state was left again changes nothing, and is not a departure.
 * 3. An event the candidate does not accept, a candidate that throws, or one that cannot be
 *    created is a departure at that record, never a crash. After its first departure a session is
 *    no longer compared (the recorded events no longer describe what the candidate would see);
 *    the replay itself goes on.
 */
import {
  createActor,
  fromPromise,
  SimulatedClock,
  type AnyActorRef,
  type AnyStateMachine,
  type InspectionEvent,
} from 'xstate';
import type { SessionInput } from '../../machines/session.machine.js';
import { RuntimeError } from '../errors.js';
import type { LogHeader, LogRecord } from './format.js';
import { compactJSON, describeRecord, formatOffset, recordTime, shortId } from './timeline.js';

/** The first record at which a changed machine does not do what the recorded one did. */
export interface Departure {
  sessionId: string;
  /** 0-based index of the record in the log's records (the header excluded). */
  index: number;
  /** 1-based line of the record in the log. */
  line: number;
  /** The record, as the replay timeline describes it. */
  record: string;
  what: string;
  /** What the recorded machine did (state value, operations or timers). */
  expected: unknown;
  /** What the changed machine did or would do. */
  actual: unknown;
}

/** The outcome of a what-if replay. */
export interface WhatIfReport {
  /** Every session the changed machine was run for, in order of first activation. */
  sessions: string[];
  /** The first departure of each session that departs, in log order. */
  departures: Departure[];
}

interface Timer {
  type: string;
  delay: number;
  /** Clock time it is due at: the time its step ran at, plus its delay. */
  due: number;
}

/** What one actor did: the operations of its current step, and its pending timers by id. */
class Trace {
  ops: string[] = [];
  readonly timers = new Map<string, Timer>();
  /** Set once the session departed: nothing more is recorded. */
  closed = false;

  constructor(private readonly now: () => number) {}

  /** Sees the root actor's actions (each session actor is the root of its own system). */
  readonly inspect = (event: InspectionEvent): void => {
    if (this.closed || event.type !== '@xstate.action' || event.actorRef.sessionId !== event.rootId) return;
    const { type, params } = event.action as { type: string; params?: unknown };
    const p = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
    const delayed = (type === 'xstate.raise' || type === 'xstate.sendTo') && typeof p.delay === 'number';
    if (delayed) {
      const sent = p.event as { type?: unknown } | undefined;
      const eventType = typeof sent?.type === 'string' ? sent.type : String(sent);
      const id = typeof p.id === 'string' ? p.id : eventType;
      this.timers.set(id, { type: eventType, delay: p.delay as number, due: this.now() + (p.delay as number) });
      return;
    }
    if (type === 'xstate.cancel') {
      this.timers.delete(String(p.sendId));
      return;
    }
    const op = describeOperation(type, p);
    if (op !== null) this.ops.push(op);
  };
}

function describeEmitted(event: unknown): string {
  const e = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
  switch (e.type) {
    case 'container.status':
      return `emit container.status ${String(e.from)} → ${String(e.to)} (${String(e.reason)})`;
    case 'mailbox.settled':
      return `emit mailbox.settled (${Array.isArray(e.results) ? e.results.length : 0} results)`;
    default:
      return `emit ${String(e.type)}`;
  }
}

/** One operation an actor asked for, as a line of the report; null for internal ones. */
function describeOperation(type: string, p: Record<string, unknown>): string | null {
  switch (type) {
    case 'xstate.raise':
    case 'xstate.assign':
      return null;
    case 'xstate.emit':
      return describeEmitted(p.event);
    case 'xstate.spawnChild': {
      const src = typeof p.src === 'string' ? p.src : String(p.id);
      return `start ${src}${p.input === undefined ? '' : ` ${compactJSON(p.input, 200)}`}`;
    }
    case 'xstate.stopChild':
      // Its params are the child itself; none when the child had already finished.
      return typeof p.id === 'string' ? `stop ${p.id}` : null;
    case 'xstate.sendTo':
    case 'xstate.sendParent':
      return `${type} ${String((p.event as { type?: unknown } | undefined)?.type)}`;
    case 'awaitTurn':
      return 'await the commit turn';
    case 'commitBatch': {
      const ops = Array.isArray(p.ops) ? (p.ops as { requestId?: unknown; kind?: unknown }[]) : [];
      const list = ops.map((o) => `${String(o.kind)} ${String(o.requestId)}`).join(', ');
      return `commit [${list}] with the container ${String(p.containerStatus)}`;
    }
    default:
      return Object.keys(p).length === 0 ? type : `${type} ${compactJSON(p, 200)}`;
  }
}

const isStatus = (op: string) => op.startsWith('emit container.status ');

function describeTimers(timers: Iterable<Timer>, startedAt: number): string[] {
  return [...timers].map((t) => `${t.type} after ${t.delay} ms, due ${formatOffset(t.due - startedAt)}`);
}

function isTimerEvent(type: string): boolean {
  return type.startsWith('xstate.after.');
}

interface Compared {
  reference: Trace;
  candidate: Trace;
  referenceActor: AnyActorRef;
  /** Undefined when the changed machine could not even be created. */
  actor: AnyActorRef | undefined;
  failure: unknown;
  /** Earliest due time of a candidate timer with no twin in the replayed actor. */
  offDue: number;
}

const pending = <T>() => new Promise<T>(() => undefined);

/** Checks that `machine` looks like an XState machine, before any replay work. */
export function assertMachine(machine: unknown): asserts machine is AnyStateMachine {
  const m = machine as Partial<AnyStateMachine> | null;
  if (typeof m !== 'object' || m === null || typeof m.provide !== 'function' || typeof m.transition !== 'function') {
    throw new RuntimeError('INVALID_INPUT', 'machine must be an XState v5 state machine (createMachine or setup)');
  }
}

/** Runs the candidate machine beside the replay (see the module header). */
export class WhatIf {
  private readonly machine: AnyStateMachine;
  private readonly compared = new Map<string, Compared>();
  private readonly departed = new Set<string>();
  /** Every session compared, in order of first activation. */
  private readonly seen = new Set<string>();
  private readonly departures: Departure[] = [];
  /** The latest clock time the log proves has passed. */
  private now: number;
  private index = 0;
  private line = 0;
  private record: LogRecord | undefined;

  constructor(
    machine: AnyStateMachine,
    private readonly header: LogHeader,
  ) {
    // The same rule as the replayed actor: effects never complete by themselves.
    try {
      this.machine = machine.provide({
        actions: { awaitTurn: () => undefined, commitBatch: () => undefined },
        actors: { startContainer: fromPromise(pending), stopContainer: fromPromise(pending) },
      } as never);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new RuntimeError('INVALID_INPUT', `the machine does not take the replay's implementations: ${detail}`, {
        cause: error,
      });
    }
    this.now = header.startedAt;
  }

  report(): WhatIfReport {
    return { sessions: [...this.seen], departures: [...this.departures] };
  }

  /** Before each record: advance the time the log proves, and fire what is due by then. */
  before(index: number, line: number, record: LogRecord): void {
    this.index = index;
    this.line = line;
    this.record = record;
    let at = recordTime(record);
    if (record.k === 'ev' && isTimerEvent(record.e.type)) {
      const timer = this.compared.get(record.s)?.reference.timers.get(record.e.type);
      if (timer !== undefined) at = at === null ? timer.due : Math.max(at, timer.due);
    }
    if (at === null || at <= this.now) return;
    this.now = at;
    for (const [sessionId, c] of this.compared) {
      if (c.offDue > this.now) continue;
      const early = [...c.candidate.timers.values()].filter((t) => t.due <= this.now && !this.twinned(c, t));
      const first = early.sort((a, b) => a.due - b.due)[0];
      if (first === undefined) continue;
      this.depart(
        sessionId,
        `the new machine's timer ${first.type} (after ${first.delay} ms) would fire before this record, at ${formatOffset(first.due - this.header.startedAt)}`,
        describeTimers(c.reference.timers.values(), this.header.startedAt),
        describeTimers(early, this.header.startedAt),
      );
    }
  }

  /**
   * The inspector for the replayed actor of a session being activated (undefined once the
   * session departed); `activated` follows once that actor has started.
   */
  inspector(sessionId: string): ((event: InspectionEvent) => void) | undefined {
    if (this.departed.has(sessionId)) return undefined;
    const trace = new Trace(() => this.now);
    this.starting.set(sessionId, trace);
    return trace.inspect;
  }

  /** Traces of replayed actors created but not yet reported started. */
  private readonly starting = new Map<string, Trace>();

  /** The replayed actor has started: start the candidate beside it and compare their first steps. */
  activated(sessionId: string, reference: AnyActorRef, input: SessionInput): void {
    this.seen.add(sessionId);
    const trace = this.starting.get(sessionId);
    this.starting.delete(sessionId);
    if (trace === undefined || this.departed.has(sessionId)) return;
    const compared: Compared = {
      reference: trace,
      candidate: new Trace(() => this.now),
      referenceActor: reference,
      actor: undefined,
      failure: undefined,
      offDue: Infinity,
    };
    this.compared.set(sessionId, compared);
    try {
      const actor = createActor(this.machine, {
        clock: new SimulatedClock(),
        inspect: compared.candidate.inspect,
        input,
      });
      compared.actor = actor;
      actor.subscribe({ error: (error) => (compared.failure ??= error) });
      actor.start();
    } catch (error) {
      compared.failure ??= error;
    }
    this.compare(sessionId, compared, reference.getSnapshot(), undefined, undefined);
  }

  /**
   * One recorded event for a session: `runReference` steps the replayed actor and returns the
   * event it was sent (a commit is sent with its recomputed results); the candidate gets the same.
   */
  step(sessionId: string, event: { type: string }, runReference: () => { type: string }): void {
    const c = this.compared.get(sessionId);
    if (c?.actor === undefined) {
      runReference();
      return;
    }
    const before = { reference: c.referenceActor.getSnapshot(), candidate: c.actor.getSnapshot() };
    c.reference.ops = [];
    c.candidate.ops = [];
    if (isTimerEvent(event.type) && !this.timerFires(sessionId, c, event.type)) {
      runReference();
      return;
    }
    const sent = runReference();
    c.actor.send(sent);
    this.compare(sessionId, c, c.referenceActor.getSnapshot(), before, event);
  }

  /** A passivated session: its candidate goes with it. */
  drop(sessionId: string): void {
    const c = this.compared.get(sessionId);
    if (c === undefined) return;
    this.compared.delete(sessionId);
    c.reference.closed = true;
    c.candidate.closed = true;
    c.actor?.stop();
  }

  close(): void {
    for (const sessionId of [...this.compared.keys()]) this.drop(sessionId);
  }

  private twinned(c: Compared, t: Timer): boolean {
    for (const r of c.reference.timers.values()) if (r.type === t.type && r.due === t.due) return true;
    return false;
  }

  /** A recorded timer fires: the candidate's twin fires with it; anything else departs. */
  private timerFires(sessionId: string, c: Compared, type: string): boolean {
    const recorded = c.reference.timers.get(type);
    const mine = c.candidate.timers.get(type);
    c.reference.timers.delete(type);
    if (mine !== undefined && (recorded === undefined || mine.due === recorded.due)) {
      c.candidate.timers.delete(type);
      return true;
    }
    const when = recorded === undefined ? '' : ` at ${formatOffset(recorded.due - this.header.startedAt)}`;
    this.depart(
      sessionId,
      mine === undefined
        ? `the recorded timer ${type} fired${when}; the new machine has no such timer`
        : `the recorded timer ${type} fired${when}; the new machine's is due only at ${formatOffset(mine.due - this.header.startedAt)}`,
      describeTimers(recorded === undefined ? [] : [recorded], this.header.startedAt),
      describeTimers(c.candidate.timers.values(), this.header.startedAt),
    );
    return false;
  }

  private compare(
    sessionId: string,
    c: Compared,
    reference: { value: unknown },
    before: { reference: unknown; candidate: unknown } | undefined,
    event: { type: string } | undefined,
  ): void {
    const on = event === undefined ? 'on activation' : `after ${event.type}`;
    if (c.failure !== undefined || c.actor === undefined) {
      const message = c.failure instanceof Error ? c.failure.message : String(c.failure);
      this.depart(sessionId, `the new machine failed ${on}: ${message}`, reference.value, null);
      return;
    }
    const candidate = c.actor.getSnapshot() as { value: unknown; status: string };
    const expected = c.reference.ops;
    const actual = c.candidate.ops;
    const sameValue = JSON.stringify(reference.value) === JSON.stringify(candidate.value);
    const sameOps = expected.length === actual.length && expected.every((op, i) => op === actual[i]);
    if (!sameValue || !sameOps) {
      const refused =
        event !== undefined &&
        before !== undefined &&
        (before.reference as { can(e: unknown): boolean }).can(event) &&
        !(before.candidate as { can(e: unknown): boolean }).can(event);
      const statusExpected = expected.filter(isStatus);
      const statusActual = actual.filter(isStatus);
      if (refused) {
        this.depart(
          sessionId,
          `the new machine does not accept ${event.type} in ${stateText((before.candidate as { value: unknown }).value)}`,
          reference.value,
          candidate.value,
        );
      } else if (JSON.stringify(statusExpected) !== JSON.stringify(statusActual)) {
        this.depart(sessionId, `the container status changes ${on} differ`, statusExpected, statusActual);
      } else if (!sameValue) {
        this.depart(sessionId, `the state ${on} differs`, reference.value, candidate.value);
      } else {
        this.depart(sessionId, `the operations asked for ${on} differ`, expected, actual);
      }
      return;
    }
    let offDue = Infinity;
    for (const t of c.candidate.timers.values()) if (!this.twinned(c, t)) offDue = Math.min(offDue, t.due);
    c.offDue = offDue;
  }

  private depart(sessionId: string, what: string, expected: unknown, actual: unknown): void {
    const record = this.record;
    this.departures.push({
      sessionId,
      index: this.index,
      line: this.line,
      record: record === undefined ? '' : describeRecord(record, this.header).text,
      what,
      expected: Array.isArray(expected) ? [...expected] : expected,
      actual: Array.isArray(actual) ? [...actual] : actual,
    });
    this.departed.add(sessionId);
    this.drop(sessionId);
  }
}

/** `{ container: 'idle', poller: 'off' }` → `container.idle, poller.off`. */
function stateText(value: unknown, prefix = ''): string {
  if (typeof value === 'string') return `${prefix}${value}`;
  if (typeof value !== 'object' || value === null) return `${prefix}${String(value)}`;
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => stateText(v, `${prefix}${k}.`))
    .join(', ');
}

/** The what-if report as text: one block per departing session, or a line saying none departs. */
export function formatWhatIf(report: WhatIfReport, label: string, max = 300): string[] {
  const n = report.sessions.length;
  const sessions = `${n} session${n === 1 ? '' : 's'}`;
  if (report.departures.length === 0) {
    return [`what-if replay of ${label}: no session departs from the recorded behaviour (${sessions} compared)`];
  }
  const departing = report.departures.length;
  const lines = [
    `what-if replay of ${label}: ${departing} of ${sessions} ${departing === 1 ? 'departs' : 'depart'} from the recorded behaviour`,
  ];
  for (const d of report.departures) {
    lines.push(
      `  ${shortId(d.sessionId)}  line ${d.line}: ${d.record}`,
      `    ${d.what}`,
      `    expected: ${compactJSON(d.expected, max)}`,
      `    actual:   ${compactJSON(d.actual, max)}`,
    );
  }
  return lines;
}
