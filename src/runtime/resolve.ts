/**
 * Resolving which session a message belongs to (API.md "Session modes"), in the central DB.
 *
 * Invariants (guarded by test/runtime/registry.test.ts and test/crash/create-crash.test.ts):
 * 1. One active session per resolution key: the key row and the session row commit in one
 *    `BEGIN IMMEDIATE` transaction, re-checked there, so a key never maps to two sessions.
 * 2. `agent-shared` resolves to the key's anchor while it is active; a closed session is never
 *    returned. On a data directory another host wrote (sessions whose keys were only inferred), the
 *    first `agent-shared` resolution adopts the agent group's newest active session as the anchor,
 *    as NanoClaw would have returned it — once: after that anchor closes, a new session is made
 *    (test/runtime/nanoclaw-migration.test.ts).
 * 3. Creation is crash-safe: a `session_creations` row commits before the folder is made and is
 *    removed with the session row's commit, so a folder without a row is always announced by a
 *    leftover creation row (start-up cleans those up: src/runtime/recovery.ts).
 * 4. Every messaging group that reaches an agent group is recorded as one of its destinations.
 */
import { mkdirSync } from 'node:fs';
import type { ResolveOutcome } from '../../machines/registry.machine.js';
import { RuntimeError } from '../errors.js';
import type { SessionPaths } from '../files/paths.js';
import { removeEntry } from '../files/remove-entry.js';
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
import { beginCreation, endCreation, recordDestination } from '../store/central-work.js';
import { createSessionDbs, type Db } from '../store/session-db.js';
import { stmt } from '../store/statements.js';
import type { Clock, IdSource } from './clock.js';
import type { ResolveInput } from './validate.js';

export interface ResolveDeps {
  central: Db;
  paths: SessionPaths;
  clock: Clock;
  ids: IdSource;
}

/** A resolution request; `at` is the clock reading of the call that asked (the creation time). */
export type ResolveCall = ResolveInput & { at?: number };

/** Creates a new session's folder: inbox/, outbox/ and both DBs with their schemas. */
export function createSessionFolder(paths: SessionPaths, agentGroupId: string, sessionId: string): void {
  mkdirSync(paths.inboxDir(agentGroupId, sessionId), { recursive: true });
  mkdirSync(paths.outboxDir(agentGroupId, sessionId), { recursive: true });
  createSessionDbs(paths.inboundDbPath(agentGroupId, sessionId), paths.outboundDbPath(agentGroupId, sessionId));
}

/**
 * The newest active session of an agent group whose mode this runtime never recorded (all its
 * keys were inferred from rows another host wrote): the session NanoClaw's agent-shared lookup
 * returns.
 */
function adoptableAnchor(central: Db, agentGroupId: string): string | undefined {
  const row = stmt(
    central,
    `SELECT s.id FROM sessions s
     WHERE s.agent_group_id = ? AND COALESCE(s.status, 'active') = 'active'
       AND NOT EXISTS (SELECT 1 FROM session_keys k WHERE k.session_id = s.id AND k.inferred = 0)
     ORDER BY s.created_at DESC, s.id DESC LIMIT 1`,
  ).get(agentGroupId) as { id: string } | undefined;
  return row?.id;
}

function activeAnchor(central: Db, key: string): string | undefined {
  const existing = getSessionKey(central, key);
  const anchor = existing && getSession(central, existing.session_id);
  return anchor !== undefined && (anchor.status ?? 'active') === 'active' ? anchor.id : undefined;
}

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
  const at = new Date(req.at ?? deps.clock.now()).toISOString();
  const wire = () => {
    if (messagingGroupId !== null) recordDestination(central, req.agentGroupId, messagingGroupId, at);
  };

  const found = central
    .transaction((): ResolveOutcome | undefined => {
      const anchor = activeAnchor(central, key);
      if (anchor !== undefined) {
        wire();
        return { sessionId: anchor, created: false };
      }
      // Adoption happens once: an agent group whose anchor was ever recorded (now closed) gets a
      // new session, like any other.
      if (req.mode !== 'agent-shared' || getSessionKey(central, key) !== undefined) return undefined;
      const adopted = adoptableAnchor(central, req.agentGroupId);
      if (adopted === undefined) return undefined;
      setSessionKey(central, { key, mode: req.mode, agent_group_id: req.agentGroupId, session_id: adopted });
      wire();
      return { sessionId: adopted, created: false };
    })
    .immediate();
  if (found !== undefined) return found;

  const sessionId = assertSafeSegment(deps.ids.next('sess'), 'sessionId');
  beginCreation(central, sessionId, req.agentGroupId, at);
  try {
    createSessionFolder(paths, req.agentGroupId, sessionId);
  } catch (error) {
    removeEntry(paths.sessionDir(req.agentGroupId, sessionId));
    endCreation(central, sessionId);
    throw error;
  }
  const outcome = central
    .transaction((): ResolveOutcome => {
      const anchor = activeAnchor(central, key);
      if (anchor !== undefined) {
        // Another writer took the key meanwhile: ours was never announced (removed just below).
        wire();
        return { sessionId: anchor, created: false };
      }
      insertSession(central, {
        id: sessionId,
        agent_group_id: req.agentGroupId,
        messaging_group_id: messagingGroupId,
        thread_id: threadId,
        agent_provider: getAgentGroup(central, req.agentGroupId)?.agent_provider ?? null,
        status: 'active',
        container_status: 'stopped',
        last_active: null,
        created_at: at,
      });
      setSessionKey(central, { key, mode: req.mode, agent_group_id: req.agentGroupId, session_id: sessionId });
      wire();
      endCreation(central, sessionId);
      return { sessionId, created: true };
    })
    .immediate();
  if (!outcome.created) {
    removeEntry(paths.sessionDir(req.agentGroupId, sessionId));
    endCreation(central, sessionId);
  }
  return outcome;
}
