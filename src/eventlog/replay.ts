/**
 * `replayLog`: re-runs an event log against a fresh data directory with no container, no channel
 * and no wall clock, and checks it ends where the recorded run ended.
 *
 * How (invariants guarded by test/eventlog/replay.test.ts and the fixture logs):
 * 1. Every session actor is rebuilt from the same machine and fed, in order, exactly the events
 *    the live actor processed (`ev` records). Its effects (commit turns, commits, container start
 *    and stop) never complete by themselves and its timers never fire: their outcomes are events
 *    in the log (`mailbox.turn`, `mailbox.committed`, `xstate.done.actor…`).
 * 2. A recorded commit is not trusted: the batch is committed again through `executeBatch`, with
 *    only the observations of the container's side (`outbound.db` rows and acks, heartbeat, outbox
 *    files) taken from the log. Recomputed results must equal the recorded ones.
 * 3. Central effects are re-applied from `ret` records with the clock readings and ids the run
 *    recorded; rejected calls are validated again and must fail with the same code.
 * 4. The first difference — a result, a transition, the final digest — is reported with its line.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createActor, fromPromise, SimulatedClock, type Actor, type AnyStateMachine } from 'xstate';
import {
  sessionMachine,
  type CommitInput,
  type MailboxOp,
  type OpResult,
  type SessionContext,
  type SessionInput,
  type StartOutput,
} from '../../machines/session.machine.js';
import { RuntimeError } from '../errors.js';
import { createPaths, type SessionPaths } from '../files/paths.js';
import { resolveInCentral } from '../runtime/registry.js';
import { createSessionEnv } from '../runtime/session-env.js';
import {
  DEFAULT_POLL_LIMITS,
  executeBatch,
  type BatchEnv,
  type Outside,
  type PollResult,
  type SweepResult,
} from '../runtime/session-ops.js';
import { parseAgentGroup, parseMessagingGroup, parseResolve, validId } from '../runtime/validate.js';
import {
  getSession,
  markSessionClosed,
  openCentral,
  setContainerStatus,
  setLastActive,
  upsertAgentGroup,
  upsertMessagingGroup,
} from '../store/central.js';
import type { Db } from '../store/session-db.js';
import { digestDataDir } from './digest.js';
import { DigestThread } from './parallel-digest.js';
import { RECONCILED_REASON, type LogHeader, type LogRecord, type Transition } from './format.js';
import { readLog, type LogSource } from './read-log.js';
import { comparable, recordedError, sameResult, validationCode } from './replay-checks.js';
import { createScratchSessionFolder, openScratchConnection } from './scratch.js';
import { assertMachine, WhatIf, type WhatIfReport } from './what-if.js';

export interface Divergence {
  /** 1-based line number in the log. */
  line: number;
  what: string;
  expected: unknown;
  actual: unknown;
}

export interface ReplayResult {
  /** The records replayed (the header excluded), in log order. */
  events: LogRecord[];
  /** The state changes the replay produced: container status changes and session lifecycle. */
  transitions: Transition[];
  /** `digestDataDir` of the replayed data directory. */
  digest: string;
  /** What the log recorded, for comparison. */
  expected: { transitions: Transition[]; digest: string | null };
  /** The first difference from the recorded run, or null when the replay matched it. */
  divergence: Divergence | null;
  /** With `options.machine`: where that machine departs from the recorded behaviour; else null. */
  whatIf: WhatIfReport | null;
}

/** A replayed session actor's state, as `onRecord` sees it after a record. */
export interface ReplaySessionSnapshot {
  /** The state value: one state per region (`container`, `poller`, `mailbox`). */
  value: unknown;
  context: SessionContext;
}

/** A batch committed again by the replay, with its recomputed results. */
export interface ReplayCommit {
  sessionId: string;
  ops: MailboxOp[];
  results: OpResult[];
}

/** What `onRecord` is handed after each record has been replayed. */
export interface ReplayStep {
  /** 0-based index of the record in the log's records (the header excluded). */
  index: number;
  /** 1-based line of the record in the log. */
  line: number;
  record: LogRecord;
  /** The session's replayed actor after this record, or undefined when it has none (not active). */
  session(sessionId: string): ReplaySessionSnapshot | undefined;
  /** The batch this record committed again (a `mailbox.committed` record), else null. */
  commit: ReplayCommit | null;
}

export interface ReplayOptions {
  /** A directory that does not exist or is empty; the replay builds its state there. */
  dataDir: string;
  /** Called every few thousand records and at the end. */
  onProgress?(done: number, total: number): void;
  /**
   * What-if replay: a changed session machine (same events and input, changed structure or
   * timings), run beside the replay and compared with the recorded behaviour; see `whatIf`.
   */
  machine?: AnyStateMachine;
  /** Called after each record has been replayed (not for records after a divergence). */
  onRecord?(step: ReplayStep): void;
}

const VALIDATION_CODES = new Set(['INVALID_ID', 'INVALID_INPUT']);

/** From this many sessions on, the final digest reads half of the session DBs on a worker thread. */
const PARALLEL_DIGEST_SESSIONS = 16;

function countSessions(records: LogRecord[]): number {
  const sessions = new Set<string>();
  for (const r of records) if (r.k === 'activate') sessions.add(r.s);
  return sessions.size;
}

/**
 * Work that never completes by itself: its outcome is replayed from the log. `awaitTurn` and
 * `commitBatch` do nothing, so turns and commits arrive only as recorded events (and a what-if
 * replay sees them asked for, as it sees them in the changed machine).
 */
const pending = <T>() => new Promise<T>(() => undefined);
/**
 * The batch each replayed actor began committing, as the machine handed it over: commits run off
 * the event loop, so other events (an exit, a start) may reach the actor before the commit's
 * answer — the container status the batch ran under is the one at its start, not at its answer.
 */
const committing = new WeakMap<object, CommitInput>();
const replayMachine = sessionMachine.provide({
  actions: {
    awaitTurn: () => undefined,
    commitBatch: ({ self }, input: CommitInput) => void committing.set(self, input),
  },
  actors: {
    startContainer: fromPromise<StartOutput, { sessionId: string }>(pending),
    stopContainer: fromPromise<void, { sessionId: string; reason: string }>(pending),
  },
});

interface ReplayActor {
  actor: Actor<typeof replayMachine>;
  env: BatchEnv;
  agentGroupId: string;
}

class DivergenceFound extends Error {
  constructor(readonly divergence: Divergence) {
    super(divergence.what);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

class Replayer {
  readonly central: Db;
  readonly paths: SessionPaths;
  readonly actors = new Map<string, ReplayActor>();
  /** One scratch connection per session, kept while its actor is passivated and re-activated. */
  private readonly connections = new Map<string, Db>();
  /** The latest `last_active` per session, written when the replay closes. */
  private readonly lastActive = new Map<string, string>();
  /** Minted ids not yet used, per prefix, in minting order. */
  readonly ids = new Map<string, string[]>();
  readonly calls = new Map<number, Extract<LogRecord, { k: 'call' }>>();
  readonly actual: Transition[] = [];
  readonly expected: Transition[] = [];
  expectedDigest: string | null = null;
  line = 0;
  /** The batch the current record committed again, if it was a commit. */
  commit: ReplayCommit | null = null;
  private compared = 0;
  private readonly matched = new Map<string, number>();
  /** Creations the log reported and whose call has not returned yet. */
  private readonly unconfirmed = new Map<string, Transition>();

  constructor(
    readonly dataDir: string,
    readonly header: LogHeader,
    readonly whatIf: WhatIf | null,
  ) {
    this.central = openCentral(dataDir);
    // Scratch (see scratch.ts): the central DB's commits need not reach the disk either.
    this.central.pragma('synchronous = OFF');
    this.paths = createPaths(dataDir);
  }

  apply(record: LogRecord): void {
    switch (record.k) {
      case 'call':
        this.calls.set(record.c, record);
        return;
      case 'ret':
        this.applyReturn(record);
        break;
      case 'id': {
        const queue = this.ids.get(record.p) ?? [];
        queue.push(record.v);
        this.ids.set(record.p, queue);
        return;
      }
      case 'activate':
        this.activate(record.s, record.ag);
        return;
      case 'passivate':
        this.drop(record.s);
        return;
      case 'reconcile':
        setContainerStatus(this.central, record.s, 'stopped', null);
        this.actual.push({ sessionId: record.s, from: record.from, to: 'stopped', reason: RECONCILED_REASON });
        break;
      case 'ev':
        this.applyEvent(record.s, record.e);
        break;
      case 'tr': {
        const transition = { sessionId: record.sessionId, from: record.from, to: record.to, reason: record.reason };
        this.expected.push(transition);
        if (record.to === 'created') {
          // A creation is re-applied at its call's `ret`, a few records later; it takes its place in
          // the list here, where the run reported it, and the `ret` must confirm it.
          this.actual.push(transition);
          this.unconfirmed.set(record.sessionId, transition);
        }
        break;
      }
      case 'end':
        this.expectedDigest = record.digest;
        return;
    }
    this.compareTransitions();
  }

  diverge(what: string, expected: unknown, actual: unknown): never {
    throw new DivergenceFound({ line: this.line, what, expected, actual });
  }

  /**
   * Transitions are compared per session, in order: sessions run concurrently, so only the order
   * within one session is a fact of the run (across sessions it is the order records landed in).
   */
  private compareTransitions(): void {
    for (; this.compared < this.actual.length; this.compared++) {
      const a = this.actual[this.compared]!;
      const seen = this.matched.get(a.sessionId) ?? 0;
      const expected = this.expected.filter((t) => t.sessionId === a.sessionId);
      const e = expected[seen];
      if (e === undefined) return;
      if (JSON.stringify(a) !== JSON.stringify(e)) {
        this.diverge(`transition #${seen + 1} of session ${a.sessionId} differs`, e, a);
      }
      this.matched.set(a.sessionId, seen + 1);
    }
  }

  finish(): void {
    for (const [sessionId, transition] of this.unconfirmed) {
      this.diverge(`the log reports creating ${sessionId}, the replay did not create it`, transition, null);
    }
    this.compared = 0;
    this.matched.clear();
    this.compareTransitions();
    const sessions = new Set([...this.expected, ...this.actual].map((t) => t.sessionId));
    for (const sessionId of sessions) {
      const expected = this.expected.filter((t) => t.sessionId === sessionId);
      const actual = this.actual.filter((t) => t.sessionId === sessionId);
      if (expected.length !== actual.length) {
        this.diverge(
          `the replay made ${actual.length} transitions for session ${sessionId}, the log recorded ${expected.length}`,
          expected,
          actual,
        );
      }
    }
  }

  private drop(sessionId: string): void {
    const entry = this.actors.get(sessionId);
    if (entry === undefined) return;
    entry.actor.stop();
    this.actors.delete(sessionId);
    this.whatIf?.drop(sessionId);
  }

  close(): void {
    for (const sessionId of [...this.actors.keys()]) this.drop(sessionId);
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
    if (this.central.open) {
      setLastActive(this.central, this.lastActive);
      this.central.close();
    }
  }

  private applyReturn(record: Extract<LogRecord, { k: 'ret' }>): void {
    const call = this.calls.get(record.c);
    if (call === undefined) this.diverge(`result of unknown call ${record.c}`, 'a call record', undefined);
    this.calls.delete(record.c);
    if (!record.ok) {
      const recordedCode = record.err.code;
      const code = validationCode(call.m, call.a, this.header.settings.maxMessageBytes);
      // A call refused by validation must be refused again with the same code. INVALID_INPUT may
      // also come after validation (unknown messaging group, driver 'none'), so a call that now
      // passes validation only diverges when it had been refused as INVALID_ID.
      const accepted = code === undefined && recordedCode === 'INVALID_INPUT';
      if (VALIDATION_CODES.has(recordedCode) && !accepted && code !== recordedCode) {
        this.diverge(`${call.m} (call ${call.c}) was rejected differently`, recordedCode, code ?? 'accepted');
      }
      return;
    }
    const at = call.at;
    const [arg] = call.a;
    switch (call.m) {
      case 'upsertAgentGroup': {
        const g = parseAgentGroup(arg);
        upsertAgentGroup(this.central, {
          id: g.id,
          name: g.name,
          folder: g.folder,
          agent_provider: g.agentProvider,
          created_at: iso(at),
        });
        return;
      }
      case 'upsertMessagingGroup': {
        const g = parseMessagingGroup(arg);
        upsertMessagingGroup(this.central, {
          id: g.id,
          channel_type: g.channelType,
          platform_id: g.platformId,
          name: g.name,
          is_group: g.isGroup ? 1 : 0,
          unknown_sender_policy: 'strict',
          created_at: iso(at),
        });
        return;
      }
      case 'resolveSession': {
        const input = parseResolve(arg);
        const recorded = record.v as { session?: { id?: unknown }; created?: unknown } | null | undefined;
        if (recorded?.created === true) {
          createScratchSessionFolder(this.paths, input.agentGroupId, recorded.session?.id);
        }
        const ids = this.ids.get('sess') ?? [];
        const outcome = resolveInCentral(
          {
            central: this.central,
            paths: this.paths,
            clock: { now: () => at, setTimeout: () => undefined, clearTimeout: () => undefined },
            ids: {
              next: () => {
                const id = ids.shift();
                if (id === undefined)
                  this.diverge('resolveSession needed an id the log does not hold', 'an id record', undefined);
                return id;
              },
            },
          },
          { ...input, at },
        );
        if (outcome.sessionId !== recorded?.session?.id || outcome.created !== recorded.created) {
          this.diverge(`resolveSession (call ${call.c}) resolved differently`, recorded, outcome);
        }
        if (outcome.created) {
          const created = { sessionId: outcome.sessionId, from: 'none', to: 'created', reason: input.mode };
          const reported = this.unconfirmed.get(outcome.sessionId);
          this.unconfirmed.delete(outcome.sessionId);
          if (reported === undefined) this.actual.push(created);
          else if (JSON.stringify(reported) !== JSON.stringify(created)) {
            this.diverge(`the creation of ${outcome.sessionId} differs`, reported, created);
          }
        }
        return;
      }
      case 'closeSession': {
        const id = validId(arg, 'sessionId');
        const row = getSession(this.central, id);
        if (row === undefined || row.status === 'closed') return;
        markSessionClosed(this.central, id);
        this.actual.push({ sessionId: id, from: 'active', to: 'closed', reason: 'closeSession' });
        return;
      }
      default:
        return;
    }
  }

  private activate(sessionId: string, agentGroupId: string): void {
    const { settings } = this.header;
    const recordedOutside: Outside = {
      pollSnapshot: () => this.diverge('a poll ran outside a recorded commit', 'recorded snapshot', undefined),
      sweepAcks: () => this.diverge('a sweep ran outside a recorded commit', 'recorded acks', undefined),
      observed: () => this.diverge('an observation outside a recorded commit', 'recorded value', undefined),
      outboundCheck: () => this.diverge('a sweep ran outside a recorded commit', 'recorded check', undefined),
    };
    const env = createSessionEnv(
      this.central,
      this.paths,
      agentGroupId,
      sessionId,
      {
        maxAttachmentBytes: settings.maxAttachmentBytes,
        maxMessageBytes: settings.maxMessageBytes,
        retry: { maxTries: settings.maxTries, backoffMs: settings.retryBackoffMs },
        poll: {
          maxPollRows: settings.maxPollRows ?? DEFAULT_POLL_LIMITS.maxPollRows,
          maxOutboundBytes: settings.maxOutboundBytes ?? DEFAULT_POLL_LIMITS.maxOutboundBytes,
          timezone: settings.timezone ?? DEFAULT_POLL_LIMITS.timezone,
        },
      },
      recordedOutside,
      () => undefined,
    );
    // The replay directory is scratch: its commits need not reach the disk (the digest reads rows),
    // and one connection per session stays open between batches, across passivations too.
    env.durable = false;
    let connection = this.connections.get(sessionId);
    if (connection === undefined) {
      connection = openScratchConnection(env.inboundDbPath);
      this.connections.set(sessionId, connection);
    }
    env.scratchConnection = connection;
    const input: SessionInput = {
      sessionId,
      agentGroupId,
      pollMs: settings.pollMs,
      idleStopMs: settings.idleStopMs,
      passivateMs: settings.passivateMs,
      maxBatch: settings.maxBatch,
    };
    const actor = createActor(replayMachine, {
      id: `session:${sessionId}`,
      clock: new SimulatedClock(),
      input,
      inspect: this.whatIf?.inspector(sessionId),
    });
    actor.on('container.status', (e) => {
      setContainerStatus(this.central, e.sessionId, e.to, e.to === 'running' && e.at !== null ? iso(e.at) : null);
      this.actual.push({ sessionId: e.sessionId, from: e.from, to: e.to, reason: e.reason });
    });
    actor.on('mailbox.settled', (e) => {
      // last_active only moves forward, so the latest value per session, written at the end, is
      // what writing each one as it comes would leave.
      if (!e.results.some((r) => r.ok && r.kind === 'writeMessage')) return;
      const at = iso(e.at);
      const before = this.lastActive.get(sessionId);
      if (before === undefined || at > before) this.lastActive.set(sessionId, at);
    });
    actor.subscribe({ error: (error) => this.diverge('a session actor failed', 'a running actor', String(error)) });
    actor.start();
    this.actors.set(sessionId, { actor, env, agentGroupId });
    this.whatIf?.activated(sessionId, actor, input);
  }

  private applyEvent(sessionId: string, event: { type: string; [key: string]: unknown }): void {
    const entry = this.actors.get(sessionId);
    if (entry === undefined)
      this.diverge(`event for session ${sessionId}, which is not active`, 'an activate record', event.type);
    if (this.whatIf === null) this.step(entry, event);
    else this.whatIf.step(sessionId, event, () => this.step(entry, event));
  }

  /** Sends one recorded event to a replayed actor; returns the event it was sent. */
  private step(entry: ReplayActor, event: { type: string; [key: string]: unknown }): { type: string } {
    if (event.type === 'mailbox.committed') return this.recommit(entry, event);
    entry.actor.send(event as never);
    return event;
  }

  private recommit(entry: ReplayActor, event: { type: string; [key: string]: unknown }): { type: string } {
    const snapshot = entry.actor.getSnapshot();
    const { context } = snapshot;
    if (!snapshot.matches({ mailbox: 'committing' })) {
      this.diverge('a commit finished while the mailbox was not committing', 'committing', snapshot.value);
    }
    const recorded = event as unknown as { at: number; results: OpResult[] };
    const valueOf = (requestId: string): unknown => {
      const r = recorded.results.find((x) => x.requestId === requestId);
      if (r === undefined || !r.ok) throw recordedError(r);
      return r.value;
    };
    entry.env.outside = {
      pollSnapshot: ({ requestId }) => (valueOf(requestId) as PollResult).snapshot,
      sweepAcks: ({ requestId }) => (valueOf(requestId) as SweepResult).acks,
      observed: (op) => valueOf(op.requestId),
      outboundCheck: ({ requestId }) => (valueOf(requestId) as SweepResult).replaced ?? null,
    };
    const input: CommitInput = committing.get(entry.actor) ?? {
      sessionId: context.sessionId,
      ops: context.inFlight,
      containerStatus: context.phase === 'stopped' ? 'stopped' : 'running',
    };
    const results = executeBatch(entry.env, input, recorded.at);
    for (let i = 0; i < Math.max(results.length, recorded.results.length); i++) {
      if (!sameResult(results[i], recorded.results[i])) {
        this.diverge(
          `operation ${recorded.results[i]?.kind ?? results[i]?.kind} of a commit gave another result`,
          comparable(recorded.results[i]),
          comparable(results[i]),
        );
      }
    }
    this.commit = { sessionId: context.sessionId, ops: input.ops, results };
    const committed = { type: 'mailbox.committed' as const, at: recorded.at, results };
    entry.actor.send(committed);
    return committed;
  }
}

function assertFreshDir(dataDir: string): void {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new RuntimeError('INVALID_INPUT', `replay needs an empty data directory, and ${dataDir} is not empty`);
  }
  mkdirSync(dataDir, { recursive: true });
}

/**
 * Replays an event log (a path, the log's text, or an iterable of records: see `readLog`) into
 * `options.dataDir`, which must be missing or empty. Rejects with `INVALID_INPUT` for a log that
 * cannot be read, a `machine` that is not a state machine, or a data directory that is not empty
 * (before writing anything); a replay that differs from the recorded run resolves with
 * `divergence` set, and with `machine`, `whatIf` reports where that machine departs.
 */
export async function replayLog(log: LogSource, options: ReplayOptions): Promise<ReplayResult> {
  if (options.machine !== undefined) assertMachine(options.machine);
  const { header, records } = await readLog(log);
  const whatIf = options.machine === undefined ? null : new WhatIf(options.machine, header);
  assertFreshDir(options.dataDir);
  // A large replay digests its session DBs on two cores; the thread starts now, while replay runs.
  const digestThread = countSessions(records) >= PARALLEL_DIGEST_SESSIONS ? new DigestThread() : null;
  const replayer = new Replayer(options.dataDir, header, whatIf);
  const { onRecord } = options;
  const step: ReplayStep = {
    index: 0,
    line: 0,
    record: records[0]!,
    session: (sessionId) => replayer.actors.get(sessionId)?.actor.getSnapshot(),
    commit: null,
  };
  let divergence: Divergence | null = null;
  try {
    for (const [index, record] of records.entries()) {
      const line = index + 2;
      replayer.line = line;
      replayer.commit = null;
      whatIf?.before(index, line, record);
      replayer.apply(record);
      if (onRecord !== undefined) {
        step.index = index;
        step.line = line;
        step.record = record;
        step.commit = replayer.commit;
        onRecord(step);
      }
      if (options.onProgress !== undefined && index % 5000 === 0) options.onProgress(index, records.length);
    }
    replayer.line = records.length + 1;
    replayer.finish();
  } catch (error) {
    if (!(error instanceof DivergenceFound)) throw error;
    divergence = error.divergence;
  } finally {
    whatIf?.close();
    replayer.close();
  }
  let digest: string;
  try {
    digest = digestThread === null ? digestDataDir(options.dataDir) : await digestThread.digest(options.dataDir);
  } finally {
    digestThread?.close();
  }
  options.onProgress?.(records.length, records.length);
  if (divergence === null && replayer.expectedDigest !== null && digest !== replayer.expectedDigest) {
    divergence = {
      line: records.length + 1,
      what: 'the digest of the replayed state differs',
      expected: replayer.expectedDigest,
      actual: digest,
    };
  }
  return {
    events: records,
    transitions: replayer.actual,
    digest,
    expected: { transitions: replayer.expected, digest: replayer.expectedDigest },
    divergence,
    whatIf: whatIf?.report() ?? null,
  };
}
