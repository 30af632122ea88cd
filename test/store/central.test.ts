import Database from 'better-sqlite3';
import fc from 'fast-check';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  backfillSessionKeys,
  deleteDirectOutbound,
  getAgentGroup,
  getMessagingGroup,
  getSession,
  getSessionKey,
  insertDirectOutbound,
  insertSession,
  listDirectOutbound,
  listSessions,
  markSessionClosed,
  modeOfSession,
  openCentral,
  resolutionKey,
  setContainerStatus,
  setLastActive,
  setSessionKey,
  upsertAgentGroup,
  upsertMessagingGroup,
  type SessionMode,
  type SessionRow,
} from '../../src/store/central.js';
import type { Db } from '../../src/store/session-db.js';
import { type Column, columnsOf, indexesOf, makeTempDir } from './helpers.js';

/** FORMAT.md "Central DB", column by column: [name, type, notnull, default, pk]. */
const CENTRAL_COLUMNS: Record<string, Column[]> = {
  agent_groups: [
    ['id', 'TEXT', 0, null, 1],
    ['name', 'TEXT', 1, null, 0],
    ['folder', 'TEXT', 1, null, 0],
    ['agent_provider', 'TEXT', 0, null, 0],
    ['created_at', 'TEXT', 1, null, 0],
  ],
  messaging_groups: [
    ['id', 'TEXT', 0, null, 1],
    ['channel_type', 'TEXT', 1, null, 0],
    ['platform_id', 'TEXT', 1, null, 0],
    ['name', 'TEXT', 0, null, 0],
    ['is_group', 'INTEGER', 0, '0', 0],
    ['unknown_sender_policy', 'TEXT', 1, "'strict'", 0],
    ['created_at', 'TEXT', 1, null, 0],
  ],
  sessions: [
    ['id', 'TEXT', 0, null, 1],
    ['agent_group_id', 'TEXT', 1, null, 0],
    ['messaging_group_id', 'TEXT', 0, null, 0],
    ['thread_id', 'TEXT', 0, null, 0],
    ['agent_provider', 'TEXT', 0, null, 0],
    ['status', 'TEXT', 0, "'active'", 0],
    ['container_status', 'TEXT', 0, "'stopped'", 0],
    ['last_active', 'TEXT', 0, null, 0],
    ['created_at', 'TEXT', 1, null, 0],
  ],
};

const CENTRAL_INDEXES: Record<string, string[]> = {
  agent_groups: ['<pk>(unique):id', '<u>(unique):folder'],
  messaging_groups: ['<pk>(unique):id', '<u>(unique):channel_type,platform_id'],
  sessions: [
    '<pk>(unique):id',
    'idx_sessions_agent_group:agent_group_id',
    'idx_sessions_container_status:container_status',
    'idx_sessions_lookup:messaging_group_id,thread_id',
  ],
};

/** The table a session-less `sessions` of FORMAT.md, written by hand as an older system would. */
const FORMAT_SESSIONS_DDL = `
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  agent_group_id TEXT NOT NULL,
  messaging_group_id TEXT,
  thread_id TEXT,
  agent_provider TEXT,
  status TEXT DEFAULT 'active',
  container_status TEXT DEFAULT 'stopped',
  last_active TEXT,
  created_at TEXT NOT NULL
);`;

let dataDir: string;
let cleanup: () => void;
const opened: Db[] = [];

function open(): Db {
  const db = openCentral(dataDir);
  opened.push(db);
  return db;
}

/** Builds `v2.db` by hand before the runtime ever opens it. */
function preCreate(sql: string): void {
  const db = new Database(join(dataDir, 'v2.db'));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

function session(id: string, over: Partial<SessionRow> = {}): SessionRow {
  return {
    id,
    agent_group_id: 'ag-1',
    messaging_group_id: 'mg-1',
    thread_id: null,
    agent_provider: null,
    status: 'active',
    container_status: 'stopped',
    last_active: null,
    created_at: '2024-01-01T00:00:00.000Z',
    ...over,
  };
}

/** Everything in the file except SQLite's own bookkeeping: schema entries and every table's rows. */
function snapshot(db: Db): { schema: unknown[]; rows: Record<string, unknown[]> } {
  const schema = db
    .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
    .all() as { type: string; name: string }[];
  const rows: Record<string, unknown[]> = {};
  for (const t of schema.filter((s) => s.type === 'table')) {
    rows[t.name] = db.prepare(`SELECT * FROM "${t.name}" ORDER BY rowid`).all();
  }
  return { schema, rows };
}

beforeEach(() => {
  ({ dir: dataDir, cleanup } = makeTempDir('store-central'));
});

afterEach(() => {
  for (const db of opened.splice(0)) if (db.open) db.close();
  cleanup();
});

describe('openCentral', () => {
  it('creates the three FORMAT.md tables with their columns', () => {
    const db = open();
    for (const [table, columns] of Object.entries(CENTRAL_COLUMNS)) {
      expect(columnsOf(db, table), table).toEqual(columns);
    }
  });

  it('creates both sessions indexes and the unique constraints', () => {
    const db = open();
    for (const [table, indexes] of Object.entries(CENTRAL_INDEXES)) {
      expect(indexesOf(db, table), table).toEqual(indexes);
    }
  });

  it('creates the runtime’s own session_keys table with one row per key', () => {
    const db = open();
    expect(columnsOf(db, 'session_keys').map((c) => c[0])).toEqual([
      'key',
      'mode',
      'agent_group_id',
      'session_id',
      'inferred',
    ]);
    expect(indexesOf(db, 'session_keys')).toContain('<pk>(unique):key');
  });

  it('creates the data directory when it does not exist yet', () => {
    dataDir = join(dataDir, 'nested', 'data');
    open();
    expect(existsSync(join(dataDir, 'v2.db'))).toBe(true);
  });

  it('leaves foreign tables untouched', () => {
    preCreate(`
      CREATE TABLE wiring (messaging_group_id TEXT NOT NULL, agent_group_id TEXT NOT NULL, priority INTEGER,
        PRIMARY KEY (messaging_group_id, agent_group_id));
      CREATE INDEX idx_wiring_agent ON wiring(agent_group_id);
      INSERT INTO wiring VALUES ('mg-1', 'ag-1', 10), ('mg-2', 'ag-1', 5);
      CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT);
      INSERT INTO audit (note) VALUES ('first'), ('second');
      ${FORMAT_SESSIONS_DDL}
      INSERT INTO sessions (id, agent_group_id, messaging_group_id, status, created_at)
        VALUES ('sess-old', 'ag-1', 'mg-1', 'closed', '2023-01-01');
    `);
    const before = (() => {
      const db = new Database(join(dataDir, 'v2.db'), { readonly: true });
      try {
        return snapshot(db);
      } finally {
        db.close();
      }
    })();

    const db = open();
    const after = snapshot(db);

    for (const entry of before.schema) expect(after.schema).toContainEqual(entry);
    for (const [table, rows] of Object.entries(before.rows)) expect(after.rows[table], table).toEqual(rows);
    expect(getSession(db, 'sess-old')).toMatchObject({ id: 'sess-old', status: 'closed' });
  });

  it('is idempotent: reopening changes neither schema nor rows', () => {
    const first = open();
    upsertAgentGroup(first, { id: 'ag-1', name: 'A', folder: 'a', agent_provider: null, created_at: 'c' });
    insertSession(first, session('sess-1'));
    const key = resolutionKey('shared', 'ag-1', 'mg-1', null);
    setSessionKey(first, { key, mode: 'shared', agent_group_id: 'ag-1', session_id: 'sess-1' });
    const before = snapshot(first);
    first.close();

    const second = open();
    expect(snapshot(second)).toEqual(before);
    second.close();
    expect(snapshot(open())).toEqual(before);
  });
});

describe('back-filling resolution keys', () => {
  it('back-fills resolution keys from existing sessions', () => {
    preCreate(`
      ${FORMAT_SESSIONS_DDL}
      INSERT INTO sessions (id, agent_group_id, messaging_group_id, thread_id, status, created_at) VALUES
        ('sess-a-newer',  'ag-1', 'mg-1', NULL,  'active', '2024-02-01T00:00:00Z'),
        ('sess-z-older',  'ag-1', 'mg-1', NULL,  'active', '2024-01-01T00:00:00Z'),
        ('sess-thread',   'ag-1', 'mg-1', 't-1', 'active', '2024-01-05T00:00:00Z'),
        ('sess-closed',   'ag-1', 'mg-2', NULL,  'closed', '2024-01-06T00:00:00Z'),
        ('sess-no-mg',    'ag-2', NULL,   NULL,  'active', '2024-01-07T00:00:00Z'),
        ('sess-null-st',  'ag-3', 'mg-3', NULL,  NULL,     '2024-01-08T00:00:00Z');
    `);

    const db = open();

    const keys = db.prepare('SELECT key, mode, agent_group_id, session_id FROM session_keys ORDER BY session_id').all();
    expect(keys).toEqual([
      // A thread makes it per-thread; no thread makes it shared.
      {
        key: resolutionKey('shared', 'ag-2', null, null),
        mode: 'shared',
        agent_group_id: 'ag-2',
        session_id: 'sess-no-mg',
      },
      {
        key: resolutionKey('shared', 'ag-3', 'mg-3', null),
        mode: 'shared',
        agent_group_id: 'ag-3',
        session_id: 'sess-null-st',
      },
      {
        key: resolutionKey('per-thread', 'ag-1', 'mg-1', 't-1'),
        mode: 'per-thread',
        agent_group_id: 'ag-1',
        session_id: 'sess-thread',
      },
      // Two sessions for one key: the oldest wins, whatever the row order or id order.
      {
        key: resolutionKey('shared', 'ag-1', 'mg-1', null),
        mode: 'shared',
        agent_group_id: 'ag-1',
        session_id: 'sess-z-older',
      },
    ]);
    // The closed session gets no key.
    expect(keys).not.toContainEqual(expect.objectContaining({ session_id: 'sess-closed' }));
    expect(modeOfSession(db, 'sess-thread')).toBe('per-thread');
    expect(modeOfSession(db, 'sess-a-newer')).toBeUndefined();
  });

  it('adds nothing on a second open, and keys a session added since by someone else', () => {
    const first = open();
    insertSession(first, session('sess-1'));
    expect(backfillSessionKeys(first)).toBe(1);
    expect(backfillSessionKeys(first)).toBe(0);
    first.close();

    // Another (older) program adds a session without a key row.
    preCreate(`INSERT INTO sessions (id, agent_group_id, messaging_group_id, thread_id, created_at)
      VALUES ('sess-2', 'ag-1', 'mg-9', 't-9', '2024-03-01');`);
    const db = open();
    // Keyed by inference (its mode was never recorded): `inferred` says so.
    expect(getSessionKey(db, resolutionKey('per-thread', 'ag-1', 'mg-9', 't-9'))).toEqual({
      key: resolutionKey('per-thread', 'ag-1', 'mg-9', 't-9'),
      mode: 'per-thread',
      agent_group_id: 'ag-1',
      session_id: 'sess-2',
      inferred: 1,
    });
    expect(db.prepare('SELECT COUNT(*) AS n FROM session_keys').get()).toEqual({ n: 2 });
  });

  it('never moves an existing key to another session', () => {
    const db = open();
    insertSession(db, session('sess-new', { created_at: '2024-05-01' }));
    setSessionKey(db, {
      key: resolutionKey('shared', 'ag-1', 'mg-1', null),
      mode: 'shared',
      agent_group_id: 'ag-1',
      session_id: 'sess-new',
    });
    insertSession(db, session('sess-ancient', { created_at: '2020-01-01' }));

    backfillSessionKeys(db);

    expect(getSessionKey(db, resolutionKey('shared', 'ag-1', 'mg-1', null))?.session_id).toBe('sess-new');
  });
});

describe('resolutionKey', () => {
  it('tells a null messaging group apart from the string "null"', () => {
    expect(resolutionKey('shared', 'ag-1', null, null)).not.toBe(resolutionKey('shared', 'ag-1', 'null', null));
    expect(resolutionKey('per-thread', 'ag-1', null, 't')).not.toBe(resolutionKey('per-thread', 'ag-1', 'null', 't'));
  });

  it('tells a null thread apart from the string "null"', () => {
    expect(resolutionKey('per-thread', 'ag-1', 'mg-1', null)).not.toBe(
      resolutionKey('per-thread', 'ag-1', 'mg-1', 'null'),
    );
  });

  it('scopes every mode by agent group', () => {
    for (const mode of ['shared', 'per-thread', 'agent-shared'] as const) {
      expect(resolutionKey(mode, 'ag-1', 'mg-1', 't-1'), mode).not.toBe(resolutionKey(mode, 'ag-2', 'mg-1', 't-1'));
    }
  });

  it('ignores the thread in shared mode and the messaging group too in agent-shared mode', () => {
    expect(resolutionKey('shared', 'ag-1', 'mg-1', 't-1')).toBe(resolutionKey('shared', 'ag-1', 'mg-1', null));
    expect(resolutionKey('agent-shared', 'ag-1', 'mg-1', 't-1')).toBe(
      resolutionKey('agent-shared', 'ag-1', null, null),
    );
    expect(resolutionKey('per-thread', 'ag-1', 'mg-1', 't-1')).not.toBe(
      resolutionKey('per-thread', 'ag-1', 'mg-1', 't-2'),
    );
  });

  it('is equal for two inputs exactly when they name the same session slot (property)', () => {
    const mode = fc.constantFrom<SessionMode>('shared', 'per-thread', 'agent-shared');
    const text = fc.oneof(fc.constantFrom('null', '', '"', ',', 'a","b', '[]'), fc.string({ maxLength: 6 }));
    const input = fc.tuple(mode, text, fc.option(text), fc.option(text));
    const slot = ([m, ag, mg, th]: [SessionMode, string, string | null, string | null]) =>
      m === 'agent-shared' ? [m, ag] : m === 'shared' ? [m, ag, mg] : [m, ag, mg, th];

    fc.assert(
      fc.property(input, input, (a, b) => {
        const sameKey = resolutionKey(...a) === resolutionKey(...b);
        const sameSlot = JSON.stringify(slot(a)) === JSON.stringify(slot(b)) && sameSlotNulls(slot(a), slot(b));
        expect(sameKey).toBe(sameSlot);
      }),
      { numRuns: 2000 },
    );

    function sameSlotNulls(x: unknown[], y: unknown[]): boolean {
      return x.length === y.length && x.every((v, i) => v === y[i]);
    }
  });
});

describe('upserts', () => {
  it('inserts an agent group and then updates name, folder and provider, keeping created_at', () => {
    const db = open();
    upsertAgentGroup(db, { id: 'ag-1', name: 'Main', folder: 'main', agent_provider: null, created_at: '2024-01-01' });
    upsertAgentGroup(db, {
      id: 'ag-1',
      name: 'Renamed',
      folder: 'renamed',
      agent_provider: 'claude',
      created_at: '2025-01-01',
    });

    expect(getAgentGroup(db, 'ag-1')).toEqual({
      id: 'ag-1',
      name: 'Renamed',
      folder: 'renamed',
      agent_provider: 'claude',
      created_at: '2024-01-01',
    });
    expect(db.prepare('SELECT COUNT(*) AS n FROM agent_groups').get()).toEqual({ n: 1 });
    expect(getAgentGroup(db, 'ag-missing')).toBeUndefined();
  });

  it('inserts a messaging group and then updates channel, platform id, name and is_group, keeping created_at', () => {
    const db = open();
    const base = {
      id: 'mg-1',
      channel_type: 'slack',
      platform_id: 'C1',
      name: null,
      is_group: 0,
      unknown_sender_policy: 'strict',
      created_at: '2024-01-01',
    };
    upsertMessagingGroup(db, base);
    upsertMessagingGroup(db, {
      ...base,
      channel_type: 'discord',
      platform_id: 'D2',
      name: 'General',
      is_group: 1,
      created_at: '2025-01-01',
    });

    expect(getMessagingGroup(db, 'mg-1')).toMatchObject({
      id: 'mg-1',
      channel_type: 'discord',
      platform_id: 'D2',
      name: 'General',
      is_group: 1,
      created_at: '2024-01-01',
    });
    expect(db.prepare('SELECT COUNT(*) AS n FROM messaging_groups').get()).toEqual({ n: 1 });
    expect(getMessagingGroup(db, 'mg-missing')).toBeUndefined();
  });

  it('refuses a second messaging group for the same channel and platform id', () => {
    const db = open();
    const row = {
      id: 'mg-1',
      channel_type: 'slack',
      platform_id: 'C1',
      name: null,
      is_group: 0,
      unknown_sender_policy: 'strict',
      created_at: '2024-01-01',
    };
    upsertMessagingGroup(db, row);
    expect(() => upsertMessagingGroup(db, { ...row, id: 'mg-2' })).toThrow(/UNIQUE constraint/);
  });

  it('moves a resolution key to a new session on setSessionKey', () => {
    const db = open();
    const key = resolutionKey('agent-shared', 'ag-1', null, null);
    setSessionKey(db, { key, mode: 'agent-shared', agent_group_id: 'ag-1', session_id: 'sess-1' });
    setSessionKey(db, { key, mode: 'agent-shared', agent_group_id: 'ag-1', session_id: 'sess-2' });
    expect(getSessionKey(db, key)).toEqual({
      key,
      mode: 'agent-shared',
      agent_group_id: 'ag-1',
      session_id: 'sess-2',
      inferred: 0,
    });
    expect(modeOfSession(db, 'sess-2')).toBe('agent-shared');
    expect(modeOfSession(db, 'sess-1')).toBeUndefined();
  });
});

describe('sessions', () => {
  function seed(db: Db): void {
    insertSession(db, session('s-1', { agent_group_id: 'ag-1', created_at: '2024-01-03' }));
    insertSession(db, session('s-2', { agent_group_id: 'ag-2', created_at: '2024-01-01' }));
    insertSession(db, session('s-3', { agent_group_id: 'ag-1', status: 'closed', created_at: '2024-01-02' }));
    // A row an older program wrote with no status at all counts as active.
    db.prepare(
      "INSERT INTO sessions (id, agent_group_id, status, created_at) VALUES ('s-4', 'ag-1', NULL, '2024-01-04')",
    ).run();
  }
  const ids = (rows: SessionRow[]) => rows.map((r) => r.id);

  it('lists sessions oldest first, filtered by agent group and status', () => {
    const db = open();
    seed(db);
    expect(ids(listSessions(db))).toEqual(['s-2', 's-3', 's-1', 's-4']);
    expect(ids(listSessions(db, { agentGroupId: 'ag-1' }))).toEqual(['s-3', 's-1', 's-4']);
    expect(ids(listSessions(db, { status: 'active' }))).toEqual(['s-2', 's-1', 's-4']);
    expect(ids(listSessions(db, { status: 'closed' }))).toEqual(['s-3']);
    expect(ids(listSessions(db, { agentGroupId: 'ag-1', status: 'active' }))).toEqual(['s-1', 's-4']);
    expect(ids(listSessions(db, { agentGroupId: 'ag-none' }))).toEqual([]);
  });

  it('applies the column defaults to a session inserted without status', () => {
    const db = open();
    db.prepare("INSERT INTO sessions (id, agent_group_id, created_at) VALUES ('s-1', 'ag-1', 'c')").run();
    expect(getSession(db, 's-1')).toMatchObject({ status: 'active', container_status: 'stopped', last_active: null });
  });

  it('writes many last_active values in one transaction', () => {
    const db = open();
    seed(db);
    const seen: boolean[] = [];
    function* entries(): Generator<readonly [string, string]> {
      for (const id of ['s-1', 's-2', 's-3']) {
        seen.push(db.inTransaction);
        yield [id, `2024-06-01T00:00:0${id.slice(2)}Z`];
      }
    }

    setLastActive(db, entries());

    expect(seen).toEqual([true, true, true]);
    expect(db.inTransaction).toBe(false);
    expect(ids(listSessions(db)).map((id) => getSession(db, id)?.last_active)).toEqual([
      '2024-06-01T00:00:02Z',
      '2024-06-01T00:00:03Z',
      '2024-06-01T00:00:01Z',
      null,
    ]);
  });

  it('writes no last_active value at all when the batch fails midway', () => {
    const db = open();
    seed(db);
    function* entries(): Generator<readonly [string, string]> {
      yield ['s-1', 'x'];
      yield ['s-2', 'x'];
      throw new Error('source failed');
    }
    expect(() => setLastActive(db, entries())).toThrow('source failed');
    expect(listSessions(db).map((r) => r.last_active)).toEqual([null, null, null, null]);
  });

  it('sets the container status and last_active, keeping last_active when given null', () => {
    const db = open();
    seed(db);
    setContainerStatus(db, 's-1', 'running', '2024-06-01T00:00:00Z');
    setContainerStatus(db, 's-1', 'idle', null);
    expect(getSession(db, 's-1')).toMatchObject({ container_status: 'idle', last_active: '2024-06-01T00:00:00Z' });
  });

  it('marks a session closed and its container stopped', () => {
    const db = open();
    seed(db);
    setContainerStatus(db, 's-1', 'running', 'now');
    markSessionClosed(db, 's-1');
    expect(getSession(db, 's-1')).toMatchObject({ status: 'closed', container_status: 'stopped' });
    expect(ids(listSessions(db, { status: 'active' }))).toEqual(['s-2', 's-4']);
  });
});

describe('direct outbound queue', () => {
  const row = (id: string, created_at: string) => ({
    session_id: 'sess-1',
    id,
    kind: 'chat',
    platform_id: 'C1',
    channel_type: 'slack',
    thread_id: null,
    content: '{"text":"hi"}',
    created_at,
  });

  it('queues a host message once per id, lists in creation order and deletes by id', () => {
    const db = open();
    expect(insertDirectOutbound(db, row('d-2', '2024-01-02'))).toBe(true);
    expect(insertDirectOutbound(db, row('d-1', '2024-01-01'))).toBe(true);
    expect(insertDirectOutbound(db, { ...row('d-1', '2024-01-09'), content: 'other' })).toBe(false);

    expect(listDirectOutbound(db, 'sess-1')).toEqual([row('d-1', '2024-01-01'), row('d-2', '2024-01-02')]);
    expect(listDirectOutbound(db, 'sess-other')).toEqual([]);

    deleteDirectOutbound(db, 'sess-1', 'd-1');
    expect(listDirectOutbound(db, 'sess-1').map((r) => r.id)).toEqual(['d-2']);
  });
});
