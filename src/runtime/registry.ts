/**
 * The registry: resolution of sessions (src/runtime/resolve.ts) behind a key cache, and the
 * registry actor that serializes every resolution that has to write.
 *
 * Invariants (guarded by test/runtime/registry.test.ts):
 * 1. Resolutions that write (a creation, an adoption, a first destination) run one at a time, in
 *    arrival order, on the registry actor: "resolves one session for 1000 concurrent calls of
 *    one key, created once".
 * 2. The key cache only answers what the central DB says: it is filled by resolutions, emptied
 *    of a session's keys when the session closes, and — this runtime being the directory's only
 *    owner — nothing else changes those rows. A hit costs no central write lock.
 */
import { fromPromise, type Actor } from 'xstate';
import { registryMachine, type ResolveOutcome, type ResolveRequest } from '../../machines/registry.machine.js';
import { RuntimeError } from '../errors.js';
import { getSession, resolutionKey, type SessionRow } from '../store/central.js';
import type { ActorSystem } from './actor-system.js';
import { resolveInCentral, type ResolveCall, type ResolveDeps } from './resolve.js';

export { resolveInCentral, createSessionFolder, type ResolveCall, type ResolveDeps } from './resolve.js';

interface Waiter {
  resolve(outcome: ResolveOutcome): void;
  reject(error: unknown): void;
}

function keyOf(req: ResolveCall): string {
  const threadId = req.mode === 'per-thread' ? req.threadId : null;
  return resolutionKey(req.mode, req.agentGroupId, req.messagingGroupId, threadId);
}

/** The registry actor with a promise API: `resolve(req)` answers in arrival order. */
export class Registry {
  private readonly actor: Actor<typeof registryMachine>;
  private readonly system: ActorSystem;
  private readonly waiters = new Map<string, Waiter>();
  private requests = 0;
  /** Resolution key → active session. */
  private readonly keys = new Map<string, string>();
  /** Session → its cached keys (to forget them when it closes). */
  private readonly keysOf = new Map<string, string[]>();
  /** `agentGroupId \0 messagingGroupId` pairs already recorded as destinations. */
  private readonly wired = new Set<string>();
  /** The central row of each cached session (its fixed columns; live ones come from the runtime). */
  private readonly rows = new Map<string, SessionRow>();

  constructor(
    private readonly deps: ResolveDeps,
    options: { system: ActorSystem; onError(error: unknown): void },
  ) {
    const machine = registryMachine.provide({
      actors: {
        resolveSession: fromPromise<ResolveOutcome, ResolveRequest>(async ({ input }) => {
          const outcome = resolveInCentral(deps, input);
          this.remember(input, outcome.sessionId);
          return outcome;
        }),
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

  /**
   * The session of an existing key, answered from memory when nothing needs writing (the key is
   * known, its session active, its messaging group already a destination); undefined otherwise.
   */
  cached(req: ResolveCall): SessionRow | undefined {
    if (this.waiters.size > 0) return undefined; // keep arrival order behind a resolution in flight
    const sessionId = this.keys.get(keyOf(req));
    if (sessionId === undefined) return undefined;
    if (req.messagingGroupId !== null && !this.wired.has(`${req.agentGroupId}\u0000${req.messagingGroupId}`)) {
      return undefined;
    }
    return this.rows.get(sessionId);
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

  /** A session closed: no key may lead to it any more. */
  forget(sessionId: string): void {
    for (const key of this.keysOf.get(sessionId) ?? []) if (this.keys.get(key) === sessionId) this.keys.delete(key);
    this.keysOf.delete(sessionId);
    this.rows.delete(sessionId);
  }

  stop(): void {
    this.system.stopMember(this.actor);
    for (const w of this.waiters.values()) w.reject(new RuntimeError('RUNTIME_CLOSED', 'runtime closed'));
    this.waiters.clear();
  }

  private remember(req: ResolveCall, sessionId: string): void {
    const key = keyOf(req);
    this.keys.set(key, sessionId);
    const list = this.keysOf.get(sessionId);
    if (list === undefined) this.keysOf.set(sessionId, [key]);
    else if (!list.includes(key)) list.push(key);
    if (req.messagingGroupId !== null) this.wired.add(`${req.agentGroupId}\u0000${req.messagingGroupId}`);
    if (!this.rows.has(sessionId)) {
      const row = getSession(this.deps.central, sessionId);
      if (row !== undefined) this.rows.set(sessionId, row);
    }
  }
}
