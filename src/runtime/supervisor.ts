/**
 * The container supervisor: starts and stops each session's container through the driver, turns
 * its exit into an event for the session actor, and kills a container that stopped showing signs
 * of life.
 *
 * Invariants (guarded by test/runtime/container.test.ts and test/runtime/sweep.test.ts):
 * 1. A start rewrites `session_routing` and `destinations` through the mailbox and removes
 *    whatever sits at `.heartbeat` first (a stale file, or a directory a container planted), so an
 *    old heartbeat never counts as a sign of life and a wake is never wedged by it.
 * 2. Every container exit reaches the session's live actor as `container.exited`, exactly once
 *    per handle — also an exit that happens before `start()` returns — and is followed by one more
 *    poll (a reply written just before the exit is delivered) and a sweep of the claims it left
 *    (a host write to `outbound.db`, allowed because the actor is then `stopped`).
 * 3. A container is killed when its heartbeat has not moved for `heartbeatCeilingMs`, or for
 *    `claimSilenceMs` while it holds a claimed message; while `container_state` declares a tool
 *    with a timeout, both tolerances extend to that timeout plus a margin (NanoClaw's host sweep).
 *    Silence is measured on the injected clock from when a heartbeat change was first seen.
 */
import type { ContainerDriver, ContainerExitInfo, ContainerHandle } from '../container/driver.js';
import { clearHeartbeat } from '../files/heartbeat.js';
import { OutboundWatches } from './outbound-watch.js';
import type { SessionPaths } from '../files/paths.js';
import { getSession } from '../store/central.js';
import type { Db } from '../store/session-db.js';
import { RuntimeError } from '../errors.js';
import type { Clock } from './clock.js';
import { routingRowsFor } from './routing.js';
import type { SessionActor } from './session-actor.js';
import type { SessionHost } from './session-host.js';
import type { PollResult } from './session-ops.js';
import type { Settings } from './settings.js';
import type { Logger } from './types.js';

export interface SupervisorDeps {
  central: Db;
  paths: SessionPaths;
  driver: ContainerDriver;
  clock: Clock;
  settings: Settings;
  logger: Logger;
  host: SessionHost;
  report(error: unknown, sessionId?: string): void;
  /** A container is up: its outbound rows may be unsettled from now on. */
  onStarted(sessionId: string): void;
}

/** How much longer than a declared tool timeout a silent container is tolerated. */
export const TOOL_MARGIN_MS = 30_000;

/** What the supervisor knows of a running container (for dashboards and diagnostics). */
export interface ContainerInfo {
  pid: number | null;
  startedAt: number;
}

export class Supervisor {
  private readonly watches = new OutboundWatches((error, sessionId) => this.deps.report(error, sessionId));
  private readonly containers = new Map<string, { handle: ContainerHandle; startedAt: number }>();
  /** Last heartbeat mtime seen per running session, and the clock time it was first seen. */
  private readonly heartbeats = new Map<string, { mtimeMs: number | null; seenAtMs: number }>();

  constructor(private readonly deps: SupervisorDeps) {}

  /** The container of a session, if one runs. */
  container(sessionId: string): ContainerInfo | undefined {
    const c = this.containers.get(sessionId);
    if (c === undefined) return undefined;
    const pid = (c.handle as { pid?: unknown }).pid;
    return { pid: typeof pid === 'number' ? pid : null, startedAt: c.startedAt };
  }

  /** When the last heartbeat change of a running container was seen (clock ms), if any. */
  heartbeatSeenAt(sessionId: string): number | undefined {
    const seen = this.heartbeats.get(sessionId);
    return seen?.mtimeMs === null ? undefined : seen?.seenAtMs;
  }

  get running(): number {
    return this.containers.size;
  }

  /** The machine's `startContainer`: resolves with the clock time the container was up. */
  async start(sessionId: string): Promise<{ at: number }> {
    const { central, paths, driver, clock } = this.deps;
    const row = getSession(central, sessionId);
    if (row === undefined) throw new RuntimeError('UNKNOWN_SESSION', `session ${sessionId} does not exist`);
    const actor = this.deps.host.get(sessionId);
    if (actor === undefined) throw new RuntimeError('UNKNOWN_SESSION', `session ${sessionId} is not live`);
    await this.writeRouting(actor);
    const ag = row.agent_group_id;
    clearHeartbeat(paths.heartbeatPath(ag, sessionId));
    this.heartbeats.delete(sessionId);
    const handle = await driver.start({
      sessionId,
      agentGroupId: ag,
      sessionDir: paths.sessionDir(ag, sessionId),
      inboundDbPath: paths.inboundDbPath(ag, sessionId),
      outboundDbPath: paths.outboundDbPath(ag, sessionId),
      heartbeatPath: paths.heartbeatPath(ag, sessionId),
    });
    const startedAt = clock.now();
    this.containers.set(sessionId, { handle, startedAt });
    this.deps.onStarted(sessionId);
    this.watches.start(
      sessionId,
      paths.sessionDir(ag, sessionId),
      () => this.deps.host.get(sessionId)?.request({ kind: 'pollOutbound' }) ?? Promise.resolve(),
    );
    let exited = false;
    handle.onExit((info) => {
      if (exited) return;
      exited = true;
      if (this.containers.get(sessionId)?.handle === handle) {
        this.containers.delete(sessionId);
        this.watches.stop(sessionId);
      }
      this.exited(sessionId, info);
    });
    return { at: startedAt };
  }

  /** A container is gone: tell its actor, then poll once more and sweep what it left. */
  private exited(sessionId: string, info: ContainerExitInfo): void {
    const actor = this.deps.host.get(sessionId);
    if (actor === undefined) return;
    actor.send({ type: 'container.exited', code: info.code, signal: info.signal, at: this.deps.clock.now() });
    this.followUp(sessionId);
  }

  /**
   * After a container is gone (an exit, or a restart that found none): the last poll delivers
   * what it wrote just before it went, and the sweep settles the claims it left behind.
   */
  followUp(sessionId: string): void {
    this.heartbeats.delete(sessionId);
    const actor = this.deps.host.get(sessionId);
    if (actor === undefined) return;
    actor.request({ kind: 'pollOutbound' }).catch((error: unknown) => this.deps.report(error, sessionId));
    actor.request({ kind: 'sweep' }, true).catch((error: unknown) => this.deps.report(error, sessionId));
  }

  /** No container is watched any more (the runtime is closing). */
  stopWatching(): void {
    this.watches.stopAll();
  }

  /** The machine's `stopContainer`: asks the handle to stop; its exit ends the `stopping` phase. */
  async stopHandle(sessionId: string, reason: string): Promise<void> {
    const c = this.containers.get(sessionId);
    if (c === undefined) {
      // Already gone (its exit was handled then): end the `stopping` phase.
      this.deps.host.get(sessionId)?.send({ type: 'container.exited', code: null, signal: null });
      return;
    }
    await c.handle.stop(reason);
  }

  /** Stops the container of `actor` and resolves once the actor is `stopped`. */
  async stop(actor: SessionActor, reason: string): Promise<void> {
    actor.send({ type: 'container.stop', reason });
    // `starting` finishes its start first and then stops; a stop in `stopped` is a no-op.
    await actor.untilPhase((p) => p === 'stopped');
  }

  /** Rewrites `session_routing` and `destinations` of the session through its mailbox. */
  async writeRouting(actor: SessionActor): Promise<void> {
    const row = getSession(this.deps.central, actor.id);
    if (row === undefined) throw new RuntimeError('UNKNOWN_SESSION', `session ${actor.id} does not exist`);
    const { routing, destinations } = routingRowsFor(this.deps.central, row);
    await actor.request({ kind: 'writeRouting', routing, destinations });
  }

  /** A poll's news of a live container: busy or idle, and whether it still shows signs of life. */
  observe(actor: SessionActor, poll: PollResult): void {
    if (actor.status === 'stopped') return;
    actor.send({ type: 'container.observed', busy: poll.claimed > 0 || poll.due > 0 });
    this.checkLiveness(actor, poll);
  }

  private checkLiveness(actor: SessionActor, poll: PollResult): void {
    const { clock, settings, logger } = this.deps;
    const now = clock.now();
    const seen = this.heartbeats.get(actor.id);
    if (seen === undefined || seen.mtimeMs !== poll.heartbeatMtimeMs) {
      this.heartbeats.set(actor.id, { mtimeMs: poll.heartbeatMtimeMs, seenAtMs: now });
      return;
    }
    const silence = now - seen.seenAtMs;
    const state = poll.containerState;
    const tool =
      state !== null && state.currentTool !== null && state.toolDeclaredTimeoutMs !== null
        ? state.toolDeclaredTimeoutMs + TOOL_MARGIN_MS
        : 0;
    const ceiling = Math.max(settings.heartbeatCeilingMs, tool);
    const claimTolerance = Math.max(settings.claimSilenceMs, tool);
    let reason: string | undefined;
    if (silence >= ceiling) reason = `stuck: no heartbeat for ${silence} ms`;
    else if (poll.claimed > 0 && silence >= claimTolerance)
      reason = `stuck: silent for ${silence} ms holding claimed work`;
    if (reason === undefined) return;
    logger.warn({ sessionId: actor.id, silence }, reason);
    actor.send({ type: 'container.stop', reason });
  }
}
