/**
 * The container supervisor: starts and stops each session's container through the driver, turns
 * its exit into an event for the session actor, and kills a container that stopped showing signs
 * of life.
 *
 * Invariants (guarded by test/runtime/container.test.ts and test/runtime/sweep.test.ts):
 * 1. A start rewrites `session_routing` and `destinations` through the mailbox and removes a
 *    stale `.heartbeat` first, so an old heartbeat never counts as a sign of life.
 * 2. Every container exit reaches the session's live actor as `container.exited`, exactly once
 *    per handle; a stop with no handle (the container already gone) is answered the same way.
 * 3. A container is killed when its heartbeat has not moved for `heartbeatCeilingMs`, or for
 *    `claimSilenceMs` while it holds a claimed message; silence is measured on the injected
 *    clock from when a heartbeat change was first seen.
 * 4. When a container is gone, the claims it left are swept (a host write to `outbound.db`,
 *    allowed because the actor is `stopped`).
 */
import { rmSync } from 'node:fs';
import type { ContainerDriver, ContainerHandle } from '../container/driver.js';
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
}

/** What the supervisor knows of a running container (for dashboards and diagnostics). */
export interface ContainerInfo {
  pid: number | null;
  startedAt: number;
}

export class Supervisor {
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
    rmSync(paths.heartbeatPath(ag, sessionId), { force: true });
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
    handle.onExit((info) => {
      if (this.containers.get(sessionId)?.handle === handle) this.containers.delete(sessionId);
      this.deps.host
        .get(sessionId)
        ?.send({ type: 'container.exited', code: info.code, signal: info.signal, at: clock.now() });
    });
    return { at: startedAt };
  }

  /** The machine's `stopContainer`: asks the handle to stop; its exit ends the `stopping` phase. */
  async stopHandle(sessionId: string, reason: string): Promise<void> {
    const c = this.containers.get(sessionId);
    if (c === undefined) {
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

  /** A container is gone: forget its heartbeat and sweep the claims it left behind. */
  afterStop(sessionId: string): void {
    this.heartbeats.delete(sessionId);
    const actor = this.deps.host.get(sessionId);
    if (actor === undefined) return;
    actor.request({ kind: 'sweep' }, true).catch((error: unknown) => this.deps.report(error, sessionId));
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
    let reason: string | undefined;
    if (silence >= settings.heartbeatCeilingMs) reason = `stuck: no heartbeat for ${silence} ms`;
    else if (poll.claimed > 0 && silence >= settings.claimSilenceMs)
      reason = `stuck: silent for ${silence} ms holding claimed work`;
    if (reason === undefined) return;
    logger.warn({ sessionId: actor.id, silence }, reason);
    actor.send({ type: 'container.stop', reason });
  }
}
