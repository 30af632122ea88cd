/**
 * The central DB (`<dataDir>/v2.db`): host-only, so it may stay open and use WAL.
 *
 * Invariants, guarded by test/store/central.test.ts:
 * 1. The three tables of FORMAT.md are created with IF NOT EXISTS; other tables in an existing
 *    file are left alone ("leaves foreign tables untouched").
 * 2. `session_keys` holds one row per resolution key (PRIMARY KEY), so one key can never map to
 *    two sessions, even across processes writing under `BEGIN IMMEDIATE`. It is back-filled from
 *    existing `sessions` rows on first open ("back-fills resolution keys from existing sessions").
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { centralDbPath } from '../files/paths.js';
import type { ContainerStatus, Db } from './session-db.js';
import { stmt } from './statements.js';

export const CENTRAL_SCHEMA = `
CREATE TABLE IF NOT EXISTS agent_groups (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  folder TEXT NOT NULL UNIQUE,
  agent_provider TEXT,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messaging_groups (
  id TEXT PRIMARY KEY,
  channel_type TEXT NOT NULL,
  platform_id TEXT NOT NULL,
  name TEXT,
  is_group INTEGER DEFAULT 0,
  unknown_sender_policy TEXT NOT NULL DEFAULT 'strict',
  created_at TEXT NOT NULL,
  UNIQUE(channel_type, platform_id)
);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  agent_group_id TEXT NOT NULL,
  messaging_group_id TEXT,
  thread_id TEXT,
  agent_provider TEXT,
  status TEXT DEFAULT 'active',
  container_status TEXT DEFAULT 'stopped',
  last_active TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_sessions_agent_group ON sessions(agent_group_id);
CREATE INDEX IF NOT EXISTS idx_sessions_lookup ON sessions(messaging_group_id, thread_id);
CREATE INDEX IF NOT EXISTS idx_sessions_container_status ON sessions(container_status);
`;

/** Tables of this runtime's own, beside FORMAT.md's three. */
export const RUNTIME_SCHEMA = `
CREATE TABLE IF NOT EXISTS session_keys (
  key TEXT PRIMARY KEY,
  mode TEXT NOT NULL,
  agent_group_id TEXT NOT NULL,
  session_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_session_keys_session ON session_keys(session_id);
CREATE TABLE IF NOT EXISTS session_creations (
  session_id TEXT PRIMARY KEY,
  agent_group_id TEXT NOT NULL,
  started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_group_destinations (
  agent_group_id TEXT NOT NULL,
  messaging_group_id TEXT NOT NULL,
  local_name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (agent_group_id, messaging_group_id),
  UNIQUE (agent_group_id, local_name)
);
CREATE TABLE IF NOT EXISTS session_work (
  session_id TEXT PRIMARY KEY,
  next_wake_at INTEGER,
  outbound_open INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_session_work_wake ON session_work(next_wake_at) WHERE next_wake_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_session_work_open ON session_work(outbound_open) WHERE outbound_open = 1;
CREATE TABLE IF NOT EXISTS outbound_direct (
  session_id TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  platform_id TEXT,
  channel_type TEXT,
  thread_id TEXT,
  content TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (session_id, id)
);
`;

export type SessionMode = 'shared' | 'per-thread' | 'agent-shared';

export interface SessionRow {
  id: string;
  agent_group_id: string;
  messaging_group_id: string | null;
  thread_id: string | null;
  agent_provider: string | null;
  status: 'active' | 'closed';
  container_status: ContainerStatus;
  last_active: string | null;
  created_at: string;
}

export interface AgentGroupRow {
  id: string;
  name: string;
  folder: string;
  agent_provider: string | null;
  created_at: string;
}

export interface MessagingGroupRow {
  id: string;
  channel_type: string;
  platform_id: string;
  name: string | null;
  is_group: number;
  unknown_sender_policy: string;
  created_at: string;
}

/** The resolution key of API.md "Session modes": scoped by agent group, `null` a value of its own. */
export function resolutionKey(
  mode: SessionMode,
  agentGroupId: string,
  messagingGroupId: string | null,
  threadId: string | null,
): string {
  switch (mode) {
    case 'agent-shared':
      return JSON.stringify([mode, agentGroupId]);
    case 'shared':
      return JSON.stringify([mode, agentGroupId, messagingGroupId]);
    case 'per-thread':
      return JSON.stringify([mode, agentGroupId, messagingGroupId, threadId]);
  }
}

export function openCentral(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(centralDbPath(dataDir));
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.transaction(() => {
      db.exec(CENTRAL_SCHEMA);
      db.exec(RUNTIME_SCHEMA);
      migrateRuntimeTables(db);
      backfillSessionKeys(db);
    }).immediate();
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Opens an existing central DB read-only, creating nothing (SQLite may add the `-wal`/`-shm`
 * files a WAL database needs for reading). Throws when there is no `v2.db`.
 */
export function openCentralReadOnly(dataDir: string): Db {
  const db = new Database(centralDbPath(dataDir), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Columns this runtime added to its own tables after they first shipped. */
function migrateRuntimeTables(db: Db): void {
  const cols = new Set(
    (db.prepare("SELECT name FROM pragma_table_info('session_keys')").all() as { name: string }[]).map((c) => c.name),
  );
  // 1 for keys inferred from rows another host wrote (their mode was never recorded).
  if (!cols.has('inferred')) db.exec('ALTER TABLE session_keys ADD COLUMN inferred INTEGER NOT NULL DEFAULT 0');
}

/**
 * Gives every active session without a key row one, oldest first, so that an existing data
 * directory resolves to the sessions it already has. The mode is inferred: a session with a
 * thread is `per-thread`, one without is `shared` (an `agent-shared` anchor cannot be told apart
 * from the rows alone; it gets its key on its first resolution in that mode).
 */
export function backfillSessionKeys(db: Db): number {
  const rows = db
    .prepare(
      `SELECT s.* FROM sessions s
       WHERE COALESCE(s.status, 'active') = 'active'
         AND NOT EXISTS (SELECT 1 FROM session_keys k WHERE k.session_id = s.id)
       ORDER BY s.created_at, s.id`,
    )
    .all() as SessionRow[];
  const insert = stmt(
    db,
    'INSERT INTO session_keys (key, mode, agent_group_id, session_id, inferred) VALUES (?, ?, ?, ?, 1) ON CONFLICT(key) DO NOTHING',
  );
  let added = 0;
  for (const row of rows) {
    const mode: SessionMode = row.thread_id === null ? 'shared' : 'per-thread';
    const key = resolutionKey(mode, row.agent_group_id, row.messaging_group_id, row.thread_id);
    added += insert.run(key, mode, row.agent_group_id, row.id).changes;
  }
  return added;
}

export function upsertAgentGroup(db: Db, row: AgentGroupRow): void {
  stmt(
    db,
    `INSERT INTO agent_groups (id, name, folder, agent_provider, created_at)
     VALUES (@id, @name, @folder, @agent_provider, @created_at)
     ON CONFLICT(id) DO UPDATE SET name = excluded.name, folder = excluded.folder,
       agent_provider = excluded.agent_provider`,
  ).run(row);
}

export function getAgentGroup(db: Db, id: string): AgentGroupRow | undefined {
  return stmt(db, 'SELECT * FROM agent_groups WHERE id = ?').get(id) as AgentGroupRow | undefined;
}

export function upsertMessagingGroup(db: Db, row: MessagingGroupRow): void {
  stmt(
    db,
    `INSERT INTO messaging_groups (id, channel_type, platform_id, name, is_group, unknown_sender_policy, created_at)
     VALUES (@id, @channel_type, @platform_id, @name, @is_group, @unknown_sender_policy, @created_at)
     ON CONFLICT(id) DO UPDATE SET channel_type = excluded.channel_type, platform_id = excluded.platform_id,
       name = excluded.name, is_group = excluded.is_group`,
  ).run(row);
}

export function getMessagingGroup(db: Db, id: string): MessagingGroupRow | undefined {
  return stmt(db, 'SELECT * FROM messaging_groups WHERE id = ?').get(id) as MessagingGroupRow | undefined;
}

export function getSession(db: Db, id: string): SessionRow | undefined {
  return stmt(db, 'SELECT * FROM sessions WHERE id = ?').get(id) as SessionRow | undefined;
}

export function listSessions(db: Db, filter: { agentGroupId?: string; status?: string } = {}): SessionRow[] {
  return db
    .prepare(
      `SELECT * FROM sessions
       WHERE (@ag IS NULL OR agent_group_id = @ag) AND (@st IS NULL OR COALESCE(status, 'active') = @st)
       ORDER BY created_at, id`,
    )
    .all({ ag: filter.agentGroupId ?? null, st: filter.status ?? null }) as SessionRow[];
}

export function insertSession(db: Db, row: SessionRow): void {
  stmt(
    db,
    `INSERT INTO sessions (id, agent_group_id, messaging_group_id, thread_id, agent_provider, status,
       container_status, last_active, created_at)
     VALUES (@id, @agent_group_id, @messaging_group_id, @thread_id, @agent_provider, @status,
       @container_status, @last_active, @created_at)`,
  ).run(row);
}

export interface SessionKeyRow {
  key: string;
  mode: SessionMode;
  agent_group_id: string;
  session_id: string;
}

export function getSessionKey(db: Db, key: string): SessionKeyRow | undefined {
  return stmt(db, 'SELECT * FROM session_keys WHERE key = ?').get(key) as SessionKeyRow | undefined;
}

export function setSessionKey(db: Db, row: SessionKeyRow): void {
  stmt(
    db,
    `INSERT INTO session_keys (key, mode, agent_group_id, session_id) VALUES (@key, @mode, @agent_group_id, @session_id)
     ON CONFLICT(key) DO UPDATE SET session_id = excluded.session_id, mode = excluded.mode, inferred = 0`,
  ).run(row);
}

export function modeOfSession(db: Db, sessionId: string): SessionMode | undefined {
  const row = stmt(db, 'SELECT mode FROM session_keys WHERE session_id = ? LIMIT 1').get(sessionId) as
    { mode: SessionMode } | undefined;
  return row?.mode;
}

export function setContainerStatus(db: Db, id: string, status: ContainerStatus, lastActive: string | null): void {
  // last_active only moves forward (ISO-8601 UTC strings order as time does).
  stmt(
    db,
    `UPDATE sessions SET container_status = @status,
       last_active = CASE WHEN last_active IS NULL OR @at > last_active THEN COALESCE(@at, last_active) ELSE last_active END
     WHERE id = @id`,
  ).run({ status, at: lastActive, id });
}

/** Writes many `last_active` values in one transaction (the coalesced flush). */
export function setLastActive(db: Db, entries: Iterable<readonly [sessionId: string, at: string]>): void {
  // Only ever moves forward, so the order in which coalesced writes land cannot matter.
  const update = stmt(
    db,
    'UPDATE sessions SET last_active = @at WHERE id = @id AND (last_active IS NULL OR last_active < @at)',
  );
  db.transaction(() => {
    for (const [id, at] of entries) update.run({ at, id });
  })();
}

export function markSessionClosed(db: Db, id: string): void {
  stmt(db, "UPDATE sessions SET status = 'closed', container_status = 'stopped' WHERE id = ?").run(id);
}

/** A host-originated outbound message queued while a container runs (it may not touch outbound.db). */
export interface DirectOutboundRow {
  session_id: string;
  id: string;
  kind: string;
  platform_id: string | null;
  channel_type: string | null;
  thread_id: string | null;
  content: string;
  created_at: string;
}

/** Returns false when the session already has a direct message with this id. */
export function insertDirectOutbound(db: Db, row: DirectOutboundRow): boolean {
  const info = db
    .prepare(
      `INSERT INTO outbound_direct (session_id, id, kind, platform_id, channel_type, thread_id, content, created_at)
       VALUES (@session_id, @id, @kind, @platform_id, @channel_type, @thread_id, @content, @created_at)
       ON CONFLICT(session_id, id) DO NOTHING`,
    )
    .run(row);
  return info.changes === 1;
}

export function listDirectOutbound(db: Db, sessionId: string): DirectOutboundRow[] {
  return db
    .prepare('SELECT * FROM outbound_direct WHERE session_id = ? ORDER BY created_at, id')
    .all(sessionId) as DirectOutboundRow[];
}

export function deleteDirectOutbound(db: Db, sessionId: string, id: string): void {
  stmt(db, 'DELETE FROM outbound_direct WHERE session_id = ? AND id = ?').run(sessionId, id);
}
