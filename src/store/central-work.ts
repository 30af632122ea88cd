/**
 * SQL over the runtime's own central tables beside FORMAT.md's (created in `central.ts`):
 *
 * - `session_creations`: a session folder being created, written (and committed) before the
 *   folder, removed in the transaction that commits the session's row. A row left behind names a
 *   folder a crash interrupted (test/crash/create-crash.test.ts).
 * - `agent_group_destinations`: every messaging group that reached an agent group through
 *   resolution, in any mode, with its local name (NanoClaw's naming), so a restart keeps them.
 * - `session_work`: what must happen to a session without anyone asking — the time its next
 *   scheduled message falls due, and whether its outbound rows may not all be settled — so that
 *   start-up finds that work without opening every session's files.
 */
import type { Db } from './session-db.js';
import { stmt } from './statements.js';

// ------------------------------------------------------------------------------- creations

export function beginCreation(db: Db, sessionId: string, agentGroupId: string, startedAt: string): void {
  stmt(db, 'INSERT OR REPLACE INTO session_creations (session_id, agent_group_id, started_at) VALUES (?, ?, ?)').run(
    sessionId,
    agentGroupId,
    startedAt,
  );
}

export function endCreation(db: Db, sessionId: string): void {
  stmt(db, 'DELETE FROM session_creations WHERE session_id = ?').run(sessionId);
}

export function unfinishedCreations(db: Db): { session_id: string; agent_group_id: string }[] {
  return stmt(db, 'SELECT session_id, agent_group_id FROM session_creations ORDER BY started_at, session_id').all() as {
    session_id: string;
    agent_group_id: string;
  }[];
}

// ------------------------------------------------------------------------------- destinations

/** NanoClaw's local name: lowercase, runs of other characters replaced by `-`, trimmed. */
export function normalizeName(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'unnamed'
  );
}

export interface DestinationRow {
  agent_group_id: string;
  messaging_group_id: string;
  local_name: string;
  name: string | null;
  channel_type: string;
  platform_id: string;
}

/**
 * Records that `messagingGroupId` reached `agentGroupId`, once, with a local name unique within
 * the agent group (`<base>`, `<base>-2`, … as NanoClaw numbers them). Returns true when new.
 */
export function recordDestination(db: Db, agentGroupId: string, messagingGroupId: string, createdAt: string): boolean {
  const known = stmt(db, 'SELECT 1 FROM agent_group_destinations WHERE agent_group_id = ? AND messaging_group_id = ?');
  if (known.get(agentGroupId, messagingGroupId) !== undefined) return false;
  const mg = stmt(db, 'SELECT name, channel_type FROM messaging_groups WHERE id = ?').get(messagingGroupId) as
    { name: string | null; channel_type: string } | undefined;
  if (mg === undefined) return false;
  const base = normalizeName(mg.name || `${mg.channel_type}-${messagingGroupId.slice(0, 8)}`);
  const taken = stmt(db, 'SELECT 1 FROM agent_group_destinations WHERE agent_group_id = ? AND local_name = ?');
  let local = base;
  for (let n = 2; taken.get(agentGroupId, local) !== undefined; n++) local = `${base}-${n}`;
  stmt(
    db,
    'INSERT INTO agent_group_destinations (agent_group_id, messaging_group_id, local_name, created_at) VALUES (?, ?, ?, ?)',
  ).run(agentGroupId, messagingGroupId, local, createdAt);
  return true;
}

/**
 * Records a session's own messaging group as a destination of its agent group if it is not yet:
 * the session was resolved from it, maybe before destinations were recorded (a NanoClaw data
 * directory, an older one of ours).
 */
export function recordOwnDestination(
  db: Db,
  session: { agent_group_id: string; messaging_group_id: string | null; created_at: string },
): void {
  if (session.messaging_group_id === null) return;
  recordDestination(db, session.agent_group_id, session.messaging_group_id, session.created_at);
}

export function hasDestination(db: Db, agentGroupId: string, messagingGroupId: string): boolean {
  return (
    stmt(db, 'SELECT 1 FROM agent_group_destinations WHERE agent_group_id = ? AND messaging_group_id = ?').get(
      agentGroupId,
      messagingGroupId,
    ) !== undefined
  );
}

/** The destinations of an agent group, with their messaging groups' current address and name. */
export function destinationsOf(db: Db, agentGroupId: string): DestinationRow[] {
  return stmt(
    db,
    `SELECT d.agent_group_id, d.messaging_group_id, d.local_name, m.name, m.channel_type, m.platform_id
     FROM agent_group_destinations d JOIN messaging_groups m ON m.id = d.messaging_group_id
     WHERE d.agent_group_id = ? ORDER BY d.created_at, d.local_name`,
  ).all(agentGroupId) as DestinationRow[];
}

// ------------------------------------------------------------------------------- work

export interface SessionWorkRow {
  session_id: string;
  next_wake_at: number | null;
  outbound_open: number;
}

/** Sets the session's pending work; a row with nothing to do is removed. */
export function setSessionWork(db: Db, sessionId: string, nextWakeAt: number | null, outboundOpen: boolean): void {
  if (nextWakeAt === null && !outboundOpen) {
    stmt(db, 'DELETE FROM session_work WHERE session_id = ?').run(sessionId);
    return;
  }
  stmt(
    db,
    `INSERT INTO session_work (session_id, next_wake_at, outbound_open) VALUES (?, ?, ?)
     ON CONFLICT(session_id) DO UPDATE SET next_wake_at = excluded.next_wake_at, outbound_open = excluded.outbound_open`,
  ).run(sessionId, nextWakeAt, outboundOpen ? 1 : 0);
}

export function getSessionWork(db: Db, sessionId: string): SessionWorkRow | undefined {
  return stmt(db, 'SELECT * FROM session_work WHERE session_id = ?').get(sessionId) as SessionWorkRow | undefined;
}

/** Every active session with work pending (indexed: start-up reads only these rows). */
export function pendingWork(db: Db): SessionWorkRow[] {
  return stmt(
    db,
    `SELECT w.* FROM session_work w JOIN sessions s ON s.id = w.session_id
     WHERE COALESCE(s.status, 'active') = 'active' AND (w.next_wake_at IS NOT NULL OR w.outbound_open = 1)`,
  ).all() as SessionWorkRow[];
}
