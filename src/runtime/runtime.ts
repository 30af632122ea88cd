/**
 * `createRuntime`: the promise API and the events of session-actors. This module is the facade:
 * it validates each call, records it, and hands it to the part that owns it, wiring the parts
 * together here; none of them imports it.
 *
 * - the registry (src/runtime/registry.ts): which session a message belongs to;
 * - the session host (session-host.ts): live session actors and their mailboxes, commits handed
 *   to the commit threads (commit-dispatch.ts, commit-threads.ts) in fair turns
 *   (commit-scheduler.ts);
 * - the supervisor (supervisor.ts): containers, liveness, what follows an exit;
 * - the session loop (session-loop.ts): what commits bring back — delivery (src/delivery/),
 *   violations, scheduled and stranded work (work-scheduler.ts);
 * - what actors and observers report, as events (relay-events.ts);
 * - start-up (recovery.ts), ownership (ownership.ts), observers (central-watch.ts), the event log,
 *   the dashboard's journal of state changes (session-journal.ts).
 *
 * Invariants (guarded by test/runtime/*.test.ts):
 * 1. Every public method validates its arguments first and rejects (never throws) with a
 *    `RuntimeError`; nothing is queued or written for a rejected call (validation.test.ts).
 * 2. Every session DB operation goes through the session's actor mailbox; a method resolves only
 *    after its operation is committed and the DB closed, in call order per session (mailbox.test.ts).
 * 3. A listener that throws never breaks the runtime: it is reported as an `error` event.
 * 4. close() settles whatever is in flight (close.test.ts).
 */
import { EventEmitter } from 'eventemitter3';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { InspectionEvent, Observer } from 'xstate';
import type { ContainerDriver } from '../container/driver.js';
import { adapterLookup } from '../delivery/router.js';
import { consoleAdapter } from '../delivery/console-adapter.js';
import { RuntimeError, toStorageError } from '../errors.js';
import { digestDataDir } from '../eventlog/digest.js';
import { RECONCILED_REASON } from '../eventlog/format.js';
import { Recorder } from '../eventlog/recorder.js';
import { violationOf } from '../files/container-violation.js';
import { centralDbPath, createPaths, type SessionPaths } from '../files/paths.js';
import { repairInbound } from '../store/repair-inbound.js';
import {
  getSession,
  listSessions,
  markSessionClosed,
  modeOfSession,
  openCentral,
  openCentralReadOnly,
  upsertAgentGroup,
  upsertMessagingGroup,
  type SessionRow,
} from '../store/central.js';
import type { Db } from '../store/session-db.js';
import { ActorSystem } from './actor-system.js';
import { readArgs } from './arguments.js';
import { guarded, logSettings, noneDriver, readFilter, recordingIds, toInfo, WRITES } from './calls.js';
import { CentralWatch } from './central-watch.js';
import { randomIds, systemClock, type IdSource } from './clock.js';
import { CommitScheduler } from './commit-scheduler.js';
import { CommitDispatch } from './commit-dispatch.js';
import { LastActive } from './last-active.js';
import { DataDirLock } from './ownership.js';
import {
  cleanUnfinishedCreations,
  orphanError,
  reconcileStatuses,
  settleStrayFolders,
  type Orphan,
} from './recovery.js';
import { Registry } from './registry.js';
import { relayCentralChange, relayEmitted, type RelayDeps, type StartFailures } from './relay-events.js';
import type { SessionActor } from './session-actor.js';
import { SessionHost } from './session-host.js';
import { SessionJournal } from './session-journal.js';
import { SessionLoop } from './session-loop.js';
import { countMessages } from './session-ops.js';
import { describeSession } from './session-view.js';
import { resolveSettings, type RuntimeOptions, type Settings } from './settings.js';
import { Supervisor } from './supervisor.js';
import { TrackedClock } from './tracked-clock.js';
import {
  type ContainerStatus,
  type InboundMessage,
  type Logger,
  type MessageCounts,
  type OutboundDirectMessage,
  type RuntimeEvents,
  type SessionInfo,
  type SessionMode,
  type SessionView,
  silentLogger,
} from './types.js';
import {
  parseAgentGroup,
  parseFilenames,
  parseInboundMessage,
  parseMessagingGroup,
  parseOutboundDirect,
  parseResolve,
  parseText,
  validId,
} from './validate.js';
import { Violations } from './violations.js';
import { WorkScheduler } from './work-scheduler.js';

export type { RuntimeOptions } from './settings.js';
export type { SessionView } from './types.js';

export interface ResolveResult {
  session: SessionInfo;
  created: boolean;
}

export class Runtime extends EventEmitter<RuntimeEvents> {
  readonly paths: SessionPaths;
  readonly dataDir: string;
  /** @internal */
  readonly settings: Settings;
  private readonly central: Db;
  private readonly clock: TrackedClock;
  private readonly ids: IdSource;
  private readonly logger: Logger;
  private readonly system: ActorSystem;
  private readonly registry: Registry;
  private readonly host: SessionHost;
  private readonly supervisor: Supervisor;
  private readonly loop: SessionLoop;
  private readonly scheduler: WorkScheduler;
  private readonly commitSlots: CommitScheduler;
  private readonly journal = new SessionJournal();
  private readonly violations: Violations;
  private readonly commits: CommitDispatch;
  private readonly recorder: Recorder | undefined;
  private readonly lastActive: LastActive;
  private readonly watch: CentralWatch | undefined;
  /** Batches on a commit thread (also of actors already dropped): whenIdle waits for them. */
  /** closeSession calls in flight, by session. */
  private readonly sessionClosings = new Map<string, Promise<void>>();
  private readonly startFailures: StartFailures = new EventEmitter();
  /** Where actors' and observers' reports become events (relay-events.ts). */
  private readonly relay: RelayDeps;
  /** Set when close() begins: new calls reject RUNTIME_CLOSED from then on. */
  private closing: Promise<void> | undefined;
  /** Set when close() has stopped every part. */
  private closed = false;
  /** The start-up check for session folders without a row, while it runs (src/runtime/recovery.ts). */
  private strayScan: Promise<void> | undefined;

  /** Use `createRuntime`. */
  constructor(
    options: RuntimeOptions,
    driver: ContainerDriver,
    private readonly lock: DataDirLock | undefined,
  ) {
    super();
    this.dataDir = options.dataDir;
    this.clock = new TrackedClock(options.clock ?? systemClock);
    this.logger = options.logger ?? silentLogger;
    this.settings = resolveSettings(options);
    this.commitSlots = new CommitScheduler(this.settings.commitThreads);
    this.paths = createPaths(options.dataDir);
    const readOnly = this.settings.readOnly;
    this.central = readOnly ? openCentralReadOnly(options.dataDir) : openCentral(options.dataDir);
    this.lastActive = new LastActive(this.central, (error) => this.report(toStorageError(error, 'last_active')));
    this.recorder =
      typeof options.eventLog === 'string' && !readOnly
        ? new Recorder(options.eventLog, logSettings(this.settings), this.clock.now())
        : undefined;
    const ids = options.ids ?? randomIds(this.clock);
    this.ids = this.recorder === undefined ? ids : recordingIds(ids, this.recorder);
    this.relay = {
      central: this.central,
      lastActive: this.lastActive,
      recorder: this.recorder,
      logger: this.logger,
      startFailures: this.startFailures,
      emit: (event, payload) => void this.emit(event, payload as never),
      report: (error, sessionId) => this.report(error, sessionId),
      info: (row) => this.rowInfo(row),
    };
    this.violations = new Violations(this.logger, (e) => this.emit('container.violation', e));
    this.commits = new CommitDispatch({
      central: this.central,
      paths: this.paths,
      settings: this.settings,
      logger: this.logger,
      violations: this.violations,
      report: (error, sessionId) => this.report(error, sessionId),
    });

    this.system = new ActorSystem(this.clock, (error) => this.report(error));
    if (options.inspect !== undefined) this.system.inspect(options.inspect);
    this.system.inspect((e) => this.journal.observeInspection(e, this.clock.now()));
    this.registry = new Registry(
      { central: this.central, paths: this.paths, clock: this.clock, ids: this.ids },
      { system: this.system, onError: (error) => this.report(error) },
    );
    this.host = new SessionHost({
      system: this.system,
      clock: this.clock,
      settings: this.settings,
      scheduler: this.commitSlots,
      recorder: this.recorder,
      commit: (actor, input, at, done) => this.commits.commit(actor, input, at, done),
      startContainer: (id) => this.supervisor.start(id),
      stopContainer: (id, reason) => this.supervisor.stopHandle(id, reason),
      onResults: (id, results, at, opOf) => this.loop.onResults(id, results, at, opOf),
      onEmitted: (event) => relayEmitted(this.relay, event),
      onError: (id, error) => this.report(error, id),
      onPassivated: (id) => this.journal.dropState(id),
    });
    this.scheduler = new WorkScheduler({
      central: this.central,
      clock: this.clock,
      sweepMs: this.settings.sweepMs,
      onDue: (id) => this.loop.onDue(id),
      onOpen: (id) => this.loop.onOpen(id),
      onError: (error) => this.report(toStorageError(error, 'session work')),
    });
    this.supervisor = new Supervisor({
      central: this.central,
      paths: this.paths,
      driver,
      clock: this.clock,
      settings: this.settings,
      logger: this.logger,
      host: this.host,
      report: (error, sessionId) => this.report(error, sessionId),
      onStarted: (id) => this.scheduler.setOpen(id, true),
    });
    const fallback = consoleAdapter();
    this.loop = new SessionLoop({
      central: this.central,
      clock: this.clock,
      settings: this.settings,
      logger: this.logger,
      recorder: this.recorder,
      host: this.host,
      supervisor: this.supervisor,
      scheduler: this.scheduler,
      journal: this.journal,
      violations: this.violations,
      lastActive: this.lastActive,
      adapterFor: adapterLookup(options.channels, fallback),
      actorFor: (id) => (this.closed ? undefined : this.actorForOrUndefined(id)),
      emit: (event, payload) => this.emit(event, payload as never),
      report: (error, sessionId) => this.report(error, sessionId),
    });
    this.watch = readOnly
      ? new CentralWatch(
          this.central,
          this.clock,
          this.settings.pollMs,
          (change) => relayCentralChange(this.relay, change),
          (error) => this.report(toStorageError(error, 'observer poll')),
        )
      : undefined;
  }

  /**
   * Start-up of an owner (src/runtime/recovery.ts): interrupted creations cleaned up, statuses of
   * a dead process reconciled, scheduled and stranded work re-armed. Called by `createRuntime`.
   * @internal
   */
  recover(): void {
    const orphaned = (orphan: Orphan) => {
      this.logger.warn({ ...orphan }, 'session folder without its central row cleaned up');
      if (orphan.movedTo !== null) setImmediate(() => this.report(orphanError(orphan), orphan.sessionId));
    };
    for (const orphan of cleanUnfinishedCreations(this.central, this.dataDir, this.paths)) orphaned(orphan);
    this.strayScan = settleStrayFolders(
      this.central,
      this.dataDir,
      this.paths,
      orphaned,
      () => this.closing !== undefined,
    )
      .catch((error: unknown) => this.report(toStorageError(error, 'stray session folders')))
      .finally(() => (this.strayScan = undefined));
    const reconciled = reconcileStatuses(this.central);
    for (const r of reconciled) {
      this.recorder?.record({ k: 'reconcile', s: r.sessionId, from: r.from });
      this.recorder?.record({
        k: 'tr',
        sessionId: r.sessionId,
        from: r.from,
        to: 'stopped',
        reason: RECONCILED_REASON,
      });
      // Their containers died with the previous process: deliver what they wrote, sweep their claims.
      const row = getSession(this.central, r.sessionId);
      if (row !== undefined) this.activate(row);
      this.supervisor.followUp(r.sessionId);
    }
    this.scheduler.recover();
    this.scheduler.start();
    if (reconciled.length === 0) return;
    // Emitted after createRuntime resolves, so listeners attached right after `await` see them.
    setImmediate(() => {
      for (const r of reconciled) {
        this.logger.warn(r, 'container status reconciled to stopped');
        this.emit('container.status', { ...r, to: 'stopped', reason: RECONCILED_REASON });
      }
    });
  }

  override emit<E extends keyof RuntimeEvents>(event: E, ...args: EventEmitter.ArgumentMap<RuntimeEvents>[E]): boolean {
    const listeners = this.listeners(event) as ((...a: unknown[]) => void)[];
    for (const listener of listeners) {
      try {
        listener(...args);
      } catch (error) {
        if (event === 'error') this.logger.error({ error }, 'an error listener threw');
        else this.report(error);
      }
    }
    return listeners.length > 0;
  }

  /** Adds an XState inspection observer for every actor of the runtime; returns its removal. */
  inspect(observer: Observer<InspectionEvent> | ((event: InspectionEvent) => void)): { unsubscribe(): void } {
    return this.system.inspect(observer);
  }

  // ---------------------------------------------------------------------------------- groups

  upsertAgentGroup(group: { id: string; name: string; folder?: string; agentProvider?: string | null }): Promise<void> {
    return this.call('upsertAgentGroup', [group], (at) => {
      const g = readArgs('upsertAgentGroup', () => parseAgentGroup(group));
      this.storage('upsertAgentGroup', () =>
        upsertAgentGroup(this.central, {
          id: g.id,
          name: g.name,
          folder: g.folder,
          agent_provider: g.agentProvider,
          created_at: new Date(at).toISOString(),
        }),
      );
    });
  }

  upsertMessagingGroup(group: {
    id: string;
    channelType: string;
    platformId: string;
    name?: string | null;
    isGroup?: boolean;
  }): Promise<void> {
    return this.call('upsertMessagingGroup', [group], (at) => {
      const g = readArgs('upsertMessagingGroup', () => parseMessagingGroup(group));
      this.storage('upsertMessagingGroup', () =>
        upsertMessagingGroup(this.central, {
          id: g.id,
          channel_type: g.channelType,
          platform_id: g.platformId,
          name: g.name,
          is_group: g.isGroup ? 1 : 0,
          unknown_sender_policy: 'strict',
          created_at: new Date(at).toISOString(),
        }),
      );
    });
  }

  // ---------------------------------------------------------------------------------- sessions

  resolveSession(args: {
    agentGroupId: string;
    messagingGroupId: string | null;
    threadId: string | null;
    mode: SessionMode;
  }): Promise<ResolveResult> {
    return this.call('resolveSession', [args], (at) => {
      const input = readArgs('resolveSession', () => parseResolve(args));
      // An existing key with nothing to write is answered from memory, without the write lock.
      const cached = this.registry.cached(input);
      if (cached !== undefined) {
        // The owner's own row: no container without a live actor, last_active as this process knows it.
        const actor = this.host.get(cached.id);
        const session = toInfo(
          cached,
          actor?.status ?? 'stopped',
          this.lastActive.get(cached.id) ?? cached.last_active,
        );
        return { session, created: false };
      }
      return this.registry.resolve({ ...input, at }).then(
        (outcome) => {
          const session = this.info(outcome.sessionId);
          if (session === undefined) throw new RuntimeError('STORAGE', `session ${outcome.sessionId} vanished`);
          if (outcome.created) {
            this.recorder?.record({ k: 'tr', sessionId: session.id, from: 'none', to: 'created', reason: input.mode });
            this.emit('session.created', { session });
          }
          return { session, created: outcome.created };
        },
        (error: unknown) => {
          throw toStorageError(error, 'resolveSession');
        },
      );
    });
  }

  /** The session, or undefined for an unknown or invalid id. Never throws. */
  getSession(sessionId: string): SessionInfo | undefined {
    if (this.closed || typeof sessionId !== 'string') return undefined;
    return this.read(undefined, () => this.info(sessionId));
  }

  /**
   * Sessions in creation order, optionally of one agent group and/or status. A filter that is not
   * an object, or whose fields are not strings, matches nothing. Never throws.
   */
  listSessions(filter: { agentGroupId?: string; status?: 'active' | 'closed' } | null = {}): SessionInfo[] {
    if (this.closed) return [];
    return this.read([], () => {
      const f = readFilter(filter);
      if (f === undefined) return [];
      return listSessions(this.central, f).map((row) => this.rowInfo(row));
    });
  }

  /**
   * Everything a dashboard shows of one session: its row, mode, the state of each region of its
   * actor, queued operations, counts, container, recent transitions and deliveries. Never throws.
   */
  describeSession(sessionId: string): SessionView | undefined {
    if (this.closed || typeof sessionId !== 'string') return undefined;
    return this.read(undefined, () => {
      const session = this.info(sessionId);
      if (session === undefined) return undefined;
      return describeSession({
        session,
        mode: this.sessionMode(sessionId),
        actor: this.host.get(sessionId),
        journal: this.journal,
        container: this.supervisor.container(sessionId),
        heartbeatSeenAt: this.supervisor.heartbeatSeenAt(sessionId),
        now: this.clock.now(),
      });
    });
  }

  closeSession(sessionId: string): Promise<void> {
    return this.call('closeSession', [sessionId], async () => {
      const id = validId(sessionId, 'sessionId');
      const row = this.row(id);
      if (row.status === 'closed') return;
      // A second close while one runs waits for it: a session is closed once.
      const running = this.sessionClosings.get(id);
      if (running !== undefined) return running;
      const closing = this.closeSessionNow(row);
      this.sessionClosings.set(id, closing);
      try {
        await closing;
      } finally {
        this.sessionClosings.delete(id);
      }
    });
  }

  private async closeSessionNow(row: SessionRow): Promise<void> {
    const id = row.id;
    const actor = this.activate(row);
    await actor.request({ kind: 'barrier' });
    actor.send({ type: 'session.close' });
    await this.supervisor.stop(actor, 'session closed');
    // The stop queued a last poll and a sweep of the container's claims: let them commit first.
    await actor.request({ kind: 'barrier' });
    this.storage('closeSession', () => markSessionClosed(this.central, id));
    this.registry.forget(id);
    this.scheduler.forget(id);
    // No write may follow (deliveries under way get SESSION_CLOSED), and what is committing
    // finishes before the actor goes, so nothing is written after the session is closed.
    actor.markClosed();
    await actor.untilDrained();
    this.host.deactivate(id);
    this.recorder?.record({ k: 'tr', sessionId: id, from: 'active', to: 'closed', reason: 'closeSession' });
    this.emit('session.closed', { sessionId: id });
  }

  /**
   * Recreates a missing or unusable `inbound.db` of a session (its container stopped), with seqs
   * continuing above every seq in `outbound.db`. A session whose `inbound.db` went missing is
   * never recreated silently: its operations reject `STORAGE` until this is called.
   */
  repairSession(sessionId: string): Promise<void> {
    return this.call('repairSession', [sessionId], async () => {
      const id = validId(sessionId, 'sessionId');
      const row = this.row(id);
      const actor = this.host.get(id);
      if (actor !== undefined) {
        await this.supervisor.stop(actor, 'repair');
        await actor.request({ kind: 'barrier' }).catch(() => undefined);
      }
      const ag = row.agent_group_id;
      const report = this.storage('repairSession', () =>
        repairInbound(this.paths.inboundDbPath(ag, id), this.paths.outboundDbPath(ag, id)),
      );
      if (report.removed !== null) this.violations.report(id, report.removed, true);
      if (actor !== undefined) actor.migrated = false;
      this.logger.warn({ sessionId: id, ...report }, 'inbound.db repaired');
    });
  }

  // ---------------------------------------------------------------------------------- messages

  writeMessage(sessionId: string, message: InboundMessage): Promise<{ seq: number; duplicate: boolean }> {
    // Not an async body: the hot path keeps one promise and no suspended frame per queued write.
    return this.call('writeMessage', [sessionId, message], (at) => {
      const id = validId(sessionId, 'sessionId');
      const msg = readArgs('writeMessage', () => parseInboundMessage(message, this.settings.maxMessageBytes));
      const actor = this.activeActor(id);
      if (actor.outstanding >= this.settings.maxQueuedPerSession) {
        throw new RuntimeError(
          'BUSY',
          `session ${id} has ${actor.outstanding} operations queued (maxQueuedPerSession ${this.settings.maxQueuedPerSession}): retry later`,
        );
      }
      // `message.written` and the wake (or schedule) follow in the session loop, before this settles.
      return actor.request<{ seq: number; duplicate: boolean }>({ kind: 'writeMessage', message: msg, at });
    });
  }

  writeSystemResponse(
    sessionId: string,
    requestId: string,
    status: string,
    result: unknown,
  ): Promise<{ id: string; seq: number }> {
    return this.call('writeSystemResponse', [sessionId, requestId, status, result], async (at) => {
      const sid = validId(sessionId, 'sessionId');
      const questionId = readArgs('writeSystemResponse', () => parseText(requestId, 'requestId'));
      const st = readArgs('writeSystemResponse', () => parseText(status, 'status'));
      const content = readArgs('writeSystemResponse', () =>
        JSON.stringify({ type: 'question_response', questionId, status: st, result: result ?? null }),
      );
      if (content === undefined) throw new RuntimeError('INVALID_INPUT', 'result must be JSON-serialisable');
      const id = this.ids.next('sys');
      const { seq } = await this.writeMessage(sid, {
        id,
        kind: 'system',
        timestamp: new Date(at).toISOString(),
        content,
      });
      return { id, seq };
    });
  }

  writeOutboundDirect(sessionId: string, message: OutboundDirectMessage): Promise<void> {
    return this.call('writeOutboundDirect', [sessionId, message], async (at) => {
      const id = validId(sessionId, 'sessionId');
      const msg = readArgs('writeOutboundDirect', () => parseOutboundDirect(message, this.settings.maxMessageBytes));
      const actor = this.activeActor(id);
      const stopped = actor.status === 'stopped';
      await actor.request(
        { kind: 'writeOutboundDirect', message: msg, timestamp: new Date(at).toISOString() },
        stopped,
      );
      this.scheduler.setOpen(id, true);
      // Delivered by the same loop as the agent's messages; a stopped session has no poll running.
      if (actor.status === 'stopped')
        void actor.request({ kind: 'pollOutbound' }).catch((e: unknown) => this.report(e, id));
    });
  }

  writeSessionRouting(sessionId: string): Promise<void> {
    return this.call('writeSessionRouting', [sessionId], async () => {
      const id = validId(sessionId, 'sessionId');
      await this.supervisor.writeRouting(this.activeActor(id));
    });
  }

  readOutboxFiles(
    sessionId: string,
    messageId: string,
    filenames: string[],
  ): Promise<{ filename: string; data: Buffer }[] | undefined> {
    return this.call('readOutboxFiles', [sessionId, messageId, filenames], () => {
      const id = validId(sessionId, 'sessionId');
      const mid = validId(messageId, 'messageId');
      const names = readArgs('readOutboxFiles', () => parseFilenames(filenames));
      return this.actorFor(id).request<{ filename: string; data: Buffer }[] | undefined>({
        kind: 'readOutbox',
        messageId: mid,
        filenames: names,
      });
    });
  }

  clearOutbox(sessionId: string, messageId: string): Promise<void> {
    return this.call('clearOutbox', [sessionId, messageId], async () => {
      const id = validId(sessionId, 'sessionId');
      const mid = validId(messageId, 'messageId');
      await this.actorFor(id).request({ kind: 'clearOutbox', messageId: mid });
    });
  }

  // ---------------------------------------------------------------------------------- containers

  wake(sessionId: string): Promise<void> {
    return this.call('wake', [sessionId], async () => {
      const id = validId(sessionId, 'sessionId');
      const actor = this.activeActor(id);
      if (actor.phase === 'running' || actor.phase === 'idle') return;
      let onFailed: ((e: { sessionId: string; error: unknown }) => void) | undefined;
      const failed = new Promise<never>((_, reject) => {
        onFailed = (e) => {
          if (e.sessionId === id) reject(toStorageError(e.error, 'wake'));
        };
        this.startFailures.on('failed', onFailed);
      });
      try {
        actor.send({ type: 'container.wake', reason: 'wake' });
        // Up (running or idle) — or started and then stopped by a stop() that came after this wake.
        let started = false;
        await Promise.race([
          actor.untilPhase((p) => {
            if (p !== 'stopped') started = true;
            return p === 'running' || p === 'idle' || (started && p === 'stopped');
          }),
          failed,
        ]);
      } finally {
        if (onFailed !== undefined) this.startFailures.off('failed', onFailed);
      }
    });
  }

  stop(sessionId: string, reason = 'stop requested'): Promise<void> {
    return this.call('stop', [sessionId, reason], async () => {
      const id = validId(sessionId, 'sessionId');
      const r = readArgs('stop', () => parseText(reason, 'reason'));
      const actor = this.host.get(id);
      if (actor === undefined) {
        this.row(id);
        return;
      }
      await this.supervisor.stop(actor, r);
    });
  }

  /** The mode the session was resolved in (from its resolution key), if known. */
  sessionMode(sessionId: string): SessionMode | undefined {
    if (this.closed || typeof sessionId !== 'string') return undefined;
    // An observer of a directory this runtime never owned may find no session_keys table.
    return this.read(undefined, () => modeOfSession(this.central, sessionId), !this.settings.readOnly);
  }

  /** Row counts of a session's two DBs, read through its mailbox. */
  messageCounts(sessionId: string): Promise<MessageCounts> {
    return this.call('messageCounts', [sessionId], () => {
      const id = validId(sessionId, 'sessionId');
      if (!this.settings.readOnly) return this.actorFor(id).request<MessageCounts>({ kind: 'counts' });
      // An observer has no mailboxes: it reads both files read-only, never the write lock.
      const row = this.row(id);
      return this.storage('messageCounts', () =>
        countMessages(
          this.paths.inboundDbPath(row.agent_group_id, id),
          this.paths.outboundDbPath(row.agent_group_id, id),
        ),
      );
    });
  }

  /**
   * The container status of a session. No container runs for an unknown or invalid id, so it is
   * `stopped`. Never throws.
   */
  containerStatus(sessionId: string): ContainerStatus {
    if (typeof sessionId !== 'string') return 'stopped';
    const actor = this.host.get(sessionId);
    if (actor !== undefined) return actor.status;
    if (this.closed) return 'stopped';
    return this.read('stopped', () => getSession(this.central, sessionId)?.container_status ?? 'stopped');
  }

  /**
   * Drains every mailbox, stops containers, closes the central DB and releases the data directory.
   * Calls made from now on reject RUNTIME_CLOSED; every call in flight settles: resolved (and
   * durable), or rejected with RUNTIME_CLOSED. Later calls of close() wait for the first.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // A closeSession in flight owns its session's last steps: let it finish them.
    await Promise.allSettled([...this.sessionClosings.values()]);
    const actors = this.host.all();
    await Promise.allSettled(actors.map((a) => a.request({ kind: 'barrier' })));
    await Promise.allSettled(actors.map((a) => this.supervisor.stop(a, 'runtime closing')));
    // Stopping queued a last poll and a sweep per container: let them commit too.
    await Promise.allSettled(this.host.all().map((a) => a.request({ kind: 'barrier' })));
    // From here no operation is queued any more (deliveries still under way get RUNTIME_CLOSED
    // for their bookkeeping); what is queued or committing on a thread finishes, so the files on
    // disk and the log agree when the actors stop.
    this.loop.deliverer.cancel();
    this.supervisor.stopWatching();
    this.host.seal();
    await Promise.allSettled(this.host.all().map((a) => a.untilDrained()));
    await this.strayScan;
    this.closed = true;
    this.watch?.stop();
    this.scheduler.stop();
    this.host.stopAll();
    this.registry.stop();
    this.system.stop();
    if (!this.settings.readOnly) this.lastActive.flush();
    this.central.close();
    this.lock?.release();
    if (this.recorder !== undefined) {
      this.recorder.record({ k: 'end', digest: digestDataDir(this.dataDir) });
      this.recorder.close();
    }
  }

  /**
   * Resolves when the runtime has nothing left to do at the clock's current time: no mailbox
   * holds work, no resolution, delivery, container start or stop is in flight, and no timer is
   * due. With a simulated clock, `clock.increment(ms)` then `await rt.whenIdle()` runs everything
   * the step made due, with no sleeps. Resolves at once after close().
   */
  async whenIdle(): Promise<void> {
    for (;;) {
      // After a macrotask boundary every microtask (settled callers' continuations) has run.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.closed) return;
      if (this.isIdle()) {
        // Idle: what is only waiting to be written together is written now.
        if (!this.settings.readOnly) {
          this.lastActive.flush();
          this.scheduler.flush();
        }
        return;
      }
    }
  }

  private isIdle(): boolean {
    if (
      this.commits.inFlight > 0 ||
      this.registry.busy ||
      this.loop.deliverer.pending > 0 ||
      this.strayScan !== undefined ||
      this.clock.anyDue()
    ) {
      return false;
    }
    for (const actor of this.host.all()) if (!actor.isSettled()) return false;
    return true;
  }

  /** Counters for observability: mailbox commits and operations, coalesced last_active flushes, live actors. */
  stats(): { commits: number; operations: number; lastActiveFlushes: number; liveSessions: number } {
    return { ...this.loop.counters, lastActiveFlushes: this.lastActive.flushes, liveSessions: this.host.size };
  }

  // ---------------------------------------------------------------------------------- internals

  /**
   * Every public method runs through here: one clock reading for the whole call, the call and its
   * outcome in the event log, and a rejection (never a throw) for any failure.
   */
  private call<T>(method: string, args: unknown[], body: (at: number) => T | Promise<T>): Promise<T> {
    if (this.closing !== undefined) return Promise.reject(new RuntimeError('RUNTIME_CLOSED', 'the runtime is closed'));
    if (this.settings.readOnly && WRITES.has(method)) {
      return Promise.reject(
        new RuntimeError('READ_ONLY', `${method} changes the data directory; this runtime is read-only`),
      );
    }
    const at = this.clock.now();
    const recorder = this.recorder;
    let c: number | undefined;
    try {
      c = recorder?.call(method, args, at);
    } catch (error) {
      // Serialising the arguments ran a getter of the caller's that threw: bad input, not logged.
      return Promise.reject(
        new RuntimeError('INVALID_INPUT', `${method}: reading the arguments threw`, { cause: error }),
      );
    }
    const result = guarded(() => body(at));
    if (recorder === undefined || c === undefined) return result;
    return result.then(
      (v) => {
        recorder.record({ k: 'ret', c, ok: true, v });
        return v;
      },
      (error: unknown) => {
        const e = error instanceof RuntimeError ? error : toStorageError(error, method);
        recorder.record({ k: 'ret', c, ok: false, err: { code: e.code, message: e.message } });
        throw error;
      },
    );
  }

  /** A synchronous read that never throws: a failure is reported and `fallback` returned. */
  private read<T>(fallback: T, fn: () => T, reportFailure = true): T {
    try {
      return fn();
    } catch (error) {
      if (reportFailure) this.report(toStorageError(error, 'read'));
      return fallback;
    }
  }

  private storage<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw toStorageError(error, what);
    }
  }

  private report(error: unknown, sessionId?: string): void {
    const err = error instanceof Error ? error : new Error(String(error));
    const v = violationOf(err);
    if (v !== undefined && v.kind !== 'missing' && sessionId !== undefined) {
      this.violations.report(sessionId, v);
      return;
    }
    this.logger.error({ error: err, sessionId }, 'runtime error');
    this.emit('error', sessionId === undefined ? { error: err } : { error: err, sessionId });
  }

  private row(sessionId: string): SessionRow {
    const row = this.storage('session lookup', () => getSession(this.central, sessionId));
    if (row === undefined) throw new RuntimeError('UNKNOWN_SESSION', `session ${sessionId} does not exist`);
    return row;
  }

  private rowInfo(row: SessionRow): SessionInfo {
    const actor = this.host.get(row.id);
    return toInfo(row, actor?.status ?? row.container_status, this.lastActive.get(row.id) ?? row.last_active);
  }

  private info(sessionId: string): SessionInfo | undefined {
    const row = getSession(this.central, sessionId);
    return row && this.rowInfo(row);
  }

  /** The live actor of an active session, activating it if needed. */
  private activeActor(sessionId: string): SessionActor {
    const live = this.host.get(sessionId);
    if (live !== undefined && !live.sessionClosed) return live;
    if (live !== undefined) throw new RuntimeError('SESSION_CLOSED', `session ${sessionId} is closed`);
    const row = this.row(sessionId);
    if (row.status === 'closed') throw new RuntimeError('SESSION_CLOSED', `session ${sessionId} is closed`);
    return this.activate(row);
  }

  /** Like `activeActor`, but also for closed sessions (reading and clearing files stays allowed). */
  private actorFor(sessionId: string): SessionActor {
    return this.host.get(sessionId) ?? this.activate(this.row(sessionId));
  }

  private actorForOrUndefined(sessionId: string): SessionActor | undefined {
    try {
      return this.actorFor(sessionId);
    } catch {
      // Unknown, or the runtime is closing: there is no actor to give.
      return undefined;
    }
  }

  private activate(row: SessionRow): SessionActor {
    const actor = this.host.activate(row.id, row.agent_group_id);
    // A closed session's actor only reads and clears files: it never writes nor starts a container.
    if (row.status === 'closed' && !actor.sessionClosed) actor.markClosed();
    return actor;
  }
}

/** Opens (or creates) a data directory and returns a running runtime. */
export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  if (
    typeof options !== 'object' ||
    options === null ||
    typeof options.dataDir !== 'string' ||
    options.dataDir === ''
  ) {
    throw new RuntimeError('INVALID_INPUT', 'createRuntime needs { dataDir }');
  }
  // Absolute from here on: a container runs in its session folder, not in the caller's cwd.
  options = { ...options, dataDir: resolvePath(options.dataDir) };
  const readOnly = options.readOnly === true;
  const driver = readOnly ? noneDriver : await resolveDriver(options.driver ?? 'process');
  if (readOnly && !existsSync(centralDbPath(options.dataDir))) {
    throw new RuntimeError('STORAGE', `no data directory at ${options.dataDir} (it holds no v2.db)`);
  }
  let lock: DataDirLock | undefined;
  let runtime: Runtime;
  try {
    if (!readOnly) {
      mkdirSync(options.dataDir, { recursive: true });
      lock = DataDirLock.acquire(options.dataDir, new Date((options.clock ?? systemClock).now()));
    }
    runtime = new Runtime(options, driver, lock);
  } catch (error) {
    lock?.release();
    throw toStorageError(error, 'createRuntime');
  }
  if (!readOnly) runtime.recover();
  return runtime;
}

async function resolveDriver(driver: NonNullable<RuntimeOptions['driver']>): Promise<ContainerDriver> {
  if (driver === 'none') return noneDriver;
  if (driver === 'process') {
    const { processDriver } = await import('../container/process-driver.js');
    return processDriver();
  }
  if (typeof driver === 'object' && driver !== null && typeof driver.start === 'function') return driver;
  throw new RuntimeError('INVALID_INPUT', "driver must be 'process', 'none' or a ContainerDriver");
}
