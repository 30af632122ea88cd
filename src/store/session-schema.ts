/**
 * Schemas of the two session DBs, exactly as FORMAT.md gives them, and the lazy column
 * migrations for session folders written by older versions.
 *
 * Invariants:
 * 1. Every statement is idempotent (`IF NOT EXISTS`, add-column-if-missing), so applying the
 *    schema to a fresh, current or old file is always safe (test/store/session-db.test.ts,
 *    "migrates a session DB built with the oldest column set").
 * 2. Columns are migrated by presence, never by a version number (FORMAT.md "Older session folders").
 * 3. The host-only table `host_seq_floor` exists only in an `inbound.db` that `repairInbound`
 *    rebuilt; fresh files hold exactly the FORMAT.md tables, and containers ignore unknown tables
 *    (test/store/hostile-container.test.ts, "nextInboundSeq honours the floor only when a repair wrote one").
 */
import type Database from 'better-sqlite3';

export const INBOUND_SCHEMA = `
CREATE TABLE IF NOT EXISTS messages_in (
  id TEXT PRIMARY KEY,
  seq INTEGER UNIQUE,
  kind TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  status TEXT DEFAULT 'pending',
  process_after TEXT,
  recurrence TEXT,
  series_id TEXT,
  tries INTEGER DEFAULT 0,
  trigger INTEGER NOT NULL DEFAULT 1,
  platform_id TEXT,
  channel_type TEXT,
  thread_id TEXT,
  content TEXT NOT NULL,
  source_session_id TEXT,
  on_wake INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS delivered (
  message_out_id TEXT PRIMARY KEY,
  platform_message_id TEXT,
  status TEXT NOT NULL DEFAULT 'delivered',
  delivered_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS destinations (
  name TEXT PRIMARY KEY,
  display_name TEXT,
  type TEXT NOT NULL,
  channel_type TEXT,
  platform_id TEXT,
  agent_group_id TEXT
);
CREATE TABLE IF NOT EXISTS session_routing (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  channel_type TEXT,
  platform_id TEXT,
  thread_id TEXT
);
`;

/**
 * Created after the column migrations, because older files lack `series_id`. The status index is
 * the host's addition: polls and sweeps look at pending rows only, and it keeps that cost flat as
 * `messages_in` grows (readers that do not know it are unaffected).
 */
const INBOUND_INDEXES = `CREATE INDEX IF NOT EXISTS idx_messages_in_series ON messages_in(series_id);
CREATE INDEX IF NOT EXISTS idx_messages_in_status ON messages_in(status);`;

export const OUTBOUND_SCHEMA = `
CREATE TABLE IF NOT EXISTS messages_out (
  id TEXT PRIMARY KEY,
  seq INTEGER UNIQUE,
  in_reply_to TEXT,
  timestamp TEXT NOT NULL,
  deliver_after TEXT,
  recurrence TEXT,
  kind TEXT NOT NULL,
  platform_id TEXT,
  channel_type TEXT,
  thread_id TEXT,
  content TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS processing_ack (
  message_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  status_changed TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS container_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  current_tool TEXT,
  tool_declared_timeout_ms INTEGER,
  tool_started_at TEXT,
  updated_at TEXT NOT NULL
);
`;

interface ColumnMigration {
  table: string;
  column: string;
  definition: string;
  backfill?: string;
}

/** Columns later versions added, in the order they were added (FORMAT.md "Older session folders"). */
export const INBOUND_COLUMN_MIGRATIONS: readonly ColumnMigration[] = [
  {
    table: 'messages_in',
    column: 'series_id',
    definition: 'TEXT',
    backfill: 'UPDATE messages_in SET series_id = id WHERE series_id IS NULL',
  },
  { table: 'messages_in', column: 'trigger', definition: 'INTEGER NOT NULL DEFAULT 1' },
  { table: 'messages_in', column: 'source_session_id', definition: 'TEXT' },
  { table: 'messages_in', column: 'on_wake', definition: 'INTEGER NOT NULL DEFAULT 0' },
  { table: 'delivered', column: 'platform_message_id', definition: 'TEXT' },
  { table: 'delivered', column: 'status', definition: "TEXT NOT NULL DEFAULT 'delivered'" },
];

function columnsOf(db: Database.Database, table: string): Set<string> {
  const rows = db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[];
  return new Set(rows.map((r) => r.name));
}

/**
 * Adds every missing column (and back-fills it), then the indexes that depend on them.
 *
 * Runs as one transaction (a savepoint when the caller already holds one): an `ALTER TABLE`
 * must never commit without its back-fill, because the next open sees the column present and
 * would never back-fill it (test/store/session-db.test.ts, "rolls back a half-done migration").
 */
export function migrateInbound(db: Database.Database): void {
  db.transaction(() => {
    const known = new Map<string, Set<string>>();
    for (const m of INBOUND_COLUMN_MIGRATIONS) {
      let cols = known.get(m.table);
      if (cols === undefined) {
        cols = columnsOf(db, m.table);
        known.set(m.table, cols);
      }
      if (cols.has(m.column)) continue;
      db.exec(`ALTER TABLE ${m.table} ADD COLUMN ${m.column} ${m.definition}`);
      if (m.backfill !== undefined) db.exec(m.backfill);
      cols.add(m.column);
    }
    db.exec(INBOUND_INDEXES);
  })();
}

export function ensureInboundSchema(db: Database.Database): void {
  db.exec(INBOUND_SCHEMA);
  migrateInbound(db);
}

export function ensureOutboundSchema(db: Database.Database): void {
  db.exec(OUTBOUND_SCHEMA);
}

/**
 * Host-only: the highest seq known to have been used in the session when `inbound.db` was rebuilt.
 * The host's next inbound seq stays above it (FORMAT.md computes it from `messages_in` alone,
 * which restarts empty after a rebuild while `outbound.db` still holds higher seqs).
 */
export const SEQ_FLOOR_TABLE = 'host_seq_floor';

const SEQ_FLOOR_SCHEMA = `CREATE TABLE IF NOT EXISTS ${SEQ_FLOOR_TABLE} (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  floor INTEGER NOT NULL
);`;

/** The persisted floor, or 0 when the file has none. */
export function readSeqFloor(db: Database.Database): number {
  const present = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(SEQ_FLOOR_TABLE);
  if (present === undefined) return 0;
  const row = db.prepare(`SELECT floor FROM ${SEQ_FLOOR_TABLE} WHERE id = 1`).get() as { floor: unknown } | undefined;
  return typeof row?.floor === 'number' && Number.isSafeInteger(row.floor) ? row.floor : 0;
}

/** Raises the persisted floor to `floor` (never lowers it), creating the table when needed. */
export function raiseSeqFloor(db: Database.Database, floor: number): void {
  db.exec(SEQ_FLOOR_SCHEMA);
  db.prepare(
    `INSERT INTO ${SEQ_FLOOR_TABLE} (id, floor) VALUES (1, @floor)
     ON CONFLICT(id) DO UPDATE SET floor = MAX(floor, excluded.floor)`,
  ).run({ floor });
}
