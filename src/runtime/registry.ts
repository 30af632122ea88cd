/**
 * Session resolution (API.md "Session modes") and the registry actor that serializes it.
 *
 * Invariants (guarded by test/runtime/registry.test.ts):
 * 1. One active session per resolution key: the key row and the session row are written in one
 *    `BEGIN IMMEDIATE` transaction of the central DB, so concurrent resolutions — in this process
 *    (serialized by the registry actor) or in other processes (serialized by SQLite's write lock) —
 *    see each other ("forked processes resolving the same 50 keys get one session per key").
 * 2. `agent-shared` resolves to the key's anchor, the first session created for it, while that is
 *    active; a closed session is never returned.
 * 3. A session's folder and both DBs are created inside that transaction, before its row commits;
 *    a resolution that finds a row without its folder recreates it (crash repair).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fromPromise, type Actor } from 'xstate';
import { registryMachine, type ResolveOutcome, type ResolveRequest } from '../../machines/registry.machine.js';
import { RuntimeError } from '../errors.js';
import type { SessionPaths } from '../files/paths.js';
import { assertSafeSegment } from '../files/segment.js';
import {
  getAgentGroup,
  getMessagingGroup,
  getSession,
  getSessionKey,
  insertSession,
  resolutionKey,
  setSessionKey,
} from '../store/central.js';
import { createSessionDbs, type Db } from '../store/session-db.js';
import type { ActorSystem } from './actor-system.js';
import type { Clock, IdSource } from './clock.js';
import type { ResolveInput } from './validate.js';

export interface ResolveDeps {
  central: Db;
  paths: SessionPaths;
  clock: Clock;
  ids: IdSource;
}

/** Creates the folder, inbox/outbox and both DBs if any is missing. Idempotent. */
export function ensureSessionFolder(paths: SessionPaths, agentGroupId: string, sessionId: string): boolean {
  const inbound = paths.inboundDbPath(agentGroupId, sessionId);
  const outbound = paths.outboundDbPath(agentGroupId, sessionId);
  const inbox = paths.inboxDir(agentGroupId, sessionId);
  const outbox = paths.outboxDir(agentGroupId, sessionId);
  if (existsSync(inbound) && existsSync(outbound) && existsSync(inbox) && existsSync(outbox)) return false;
  mkdirSync(inbox, { recursive: true });
  mkdirSync(outbox, { recursive: true });
  createSessionDbs(inbound, outbound);
  return true;
}

/** A resolution request; `at` is the clock reading of the call that asked (the creation time). */
export type ResolveCall = ResolveInput & { at?: number };

export function resolveInCentral(deps: ResolveDeps, req: ResolveCall): ResolveOutcome {
  const { central, paths } = deps;
  if (getAgentGroup(central, req.agentGroupId) === undefined) {
    throw new RuntimeError('UNKNOWN_AGENT_GROUP', `agent group ${req.agentGroupId} does not exist`);
  }
  const { messagingGroupId } = req;
  if (messagingGroupId !== null && getMessagingGroup(central, messagingGroupId) === undefined) {
    throw new RuntimeError('INVALID_INPUT', `messaging group ${messagingGroupId} does not exist`);
  }
  const threadId = req.mode === 'per-thread' ? req.threadId : null;
  const key = resolutionKey(req.mode, req.agentGroupId, messagingGroupId, threadId);
  return central
    .transaction((): ResolveOutcome => {
      const existing = getSessionKey(central, key);
      const anchor = existing && getSession(central, existing.session_id);
      if (anchor !== undefined && (anchor.status ?? 'active') === 'active') {
        ensureSessionFolder(paths, anchor.agent_group_id, anchor.id);
        return { sessionId: anchor.id, created: false };
      }
      const sessionId = assertSafeSegment(deps.ids.next('sess'), 'sessionId');
      ensureSessionFolder(paths, req.agentGroupId, sessionId);
      insertSession(central, {
        id: sessionId,
        agent_group_id: req.agentGroupId,
        messaging_group_id: messagingGroupId,
        thread_id: threadId,
        agent_provider: getAgentGroup(central, req.agentGroupId)?.agent_provider ?? null,
        status: 'active',
        container_status: 'stopped',
        last_active: null,
        created_at: new Date(req.at ?? deps.clock.now()).toISOString(),
      });
      setSessionKey(central, { key, mode: req.mode, agent_group_id: req.agentGroupId, session_id: sessionId });
      return { sessionId, created: true };
    })
    .immediate();
}

interface Waiter {
  resolve(outcome: ResolveOutcome): void;
  reject(error: unknown): void;
}

/** The registry actor with a promise API: `resolve(req)` answers in arrival order. */
export class Registry {
  private readonly actor: Actor<typeof registryMachine>;
  private readonly system: ActorSystem;
  private readonly waiters = new Map<string, Waiter>();
  private requests = 0;

  constructor(
    deps: ResolveDeps,
    options: {
      system: ActorSystem;
      onError(error: unknown): void;
    },
  ) {
    const machine = registryMachine.provide({
      actors: {
        resolveSession: fromPromise<ResolveOutcome, ResolveRequest>(async ({ input }) => resolveInCentral(deps, input)),
      },
    });
    this.system = options.system;
    this.actor = options.system.create(machine, 'registry');
    this.actor.on('registry.resolved', (e) => this.waiters.get(e.requestId)?.resolve(e.outcome));
    this.actor.on('registry.failed', (e) => this.waiters.get(e.requestId)?.reject(e.error));
    this.actor.subscribe({ error: options.onError });
    this.actor.start();
  }

  /** Resolutions asked for and not yet answered. */
  get busy(): boolean {
    return this.waiters.size > 0;
  }

  resolve(input: ResolveCall): Promise<ResolveOutcome> {
    const requestId = `resolve:${++this.requests}`;
    return new Promise<ResolveOutcome>((resolve, reject) => {
      const done = () => this.waiters.delete(requestId);
      this.waiters.set(requestId, {
        resolve: (o) => {
          done();
          resolve(o);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      this.actor.send({ type: 'registry.resolve', request: { requestId, ...input } });
    });
  }

  stop(): void {
    this.system.stopMember(this.actor);
    for (const w of this.waiters.values()) w.reject(new RuntimeError('RUNTIME_CLOSED', 'runtime closed'));
    this.waiters.clear();
  }
}
