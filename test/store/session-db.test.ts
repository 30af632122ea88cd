import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRuntimeError, RuntimeError } from '../../src/errors.js';
import { insertMessageIn, listMessagesIn } from '../../src/store/inbound.js';
import {
  createSessionDbs,
  immediateTransaction,
  readInbound,
  readOutbound,
  withInbound,
  withOutboundWhileStopped,
  type ContainerStatus,
  type Db,
} from '../../src/store/session-db.js';
import {
  type Column,
  columnsOf,
  headerFormat,
  indexesOf,
  journalModeOf,
  makeTempDir,
  openDbFds,
  peek,
  sideFiles,
  tablesOf,
} from './helpers.js';

/** FORMAT.md "inbound.db", column by column: [name, type, notnull, default, pk]. */
const INBOUND_COLUMNS: Record<string, Column[]> = {
  delivered: [
    ['message_out_id', 'TEXT', 0, null, 1],
    ['platform_message_id', 'TEXT', 0, null, 0],
    ['status', 'TEXT', 1, "'delivered'", 0],
    ['delivered_at', 'TEXT', 1, null, 0],
  ],
  destinations: [
    ['name', 'TEXT', 0, null, 1],
    ['display_name', 'TEXT', 0, null, 0],
    ['type', 'TEXT', 1, null, 0],
    ['channel_type', 'TEXT', 0, null, 0],
    ['platform_id', 'TEXT', 0, null, 0],
    ['agent_group_id', 'TEXT', 0, null, 0],
  ],
  messages_in: [
    ['id', 'TEXT', 0, null, 1],
    ['seq', 'INTEGER', 0, null, 0],
    ['kind', 'TEXT', 1, null, 0],
    ['timestamp', 'TEXT', 1, null, 0],
    ['status', 'TEXT', 0, "'pending'", 0],
    ['process_after', 'TEXT', 0, null, 0],
    ['recurrence', 'TEXT', 0, null, 0],
    ['series_id', 'TEXT', 0, null, 0],
    ['tries', 'INTEGER', 0, '0', 0],
    ['trigger', 'INTEGER', 1, '1', 0],
    ['platform_id', 'TEXT', 0, null, 0],
    ['channel_type', 'TEXT', 0, null, 0],
    ['thread_id', 'TEXT', 0, null, 0],
    ['content', 'TEXT', 1, null, 0],
    ['source_session_id', 'TEXT', 0, null, 0],
    ['on_wake', 'INTEGER', 1, '0', 0],
  ],
  session_routing: [
    ['id', 'INTEGER', 0, null, 1],
    ['channel_type', 'TEXT', 0, null, 0],
    ['platform_id', 'TEXT', 0, null, 0],
    ['thread_id', 'TEXT', 0, null, 0],
  ],
};

/** FORMAT.md "outbound.db", column by column. */
const OUTBOUND_COLUMNS: Record<string, Column[]> = {
  container_state: [
    ['id', 'INTEGER', 0, null, 1],
    ['current_tool', 'TEXT', 0, null, 0],
    ['tool_declared_timeout_ms', 'INTEGER', 0, null, 0],
    ['tool_started_at', 'TEXT', 0, null, 0],
    ['updated_at', 'TEXT', 1, null, 0],
  ],
  messages_out: [
    ['id', 'TEXT', 0, null, 1],
    ['seq', 'INTEGER', 0, null, 0],
    ['in_reply_to', 'TEXT', 0, null, 0],
    ['timestamp', 'TEXT', 1, null, 0],
    ['deliver_after', 'TEXT', 0, null, 0],
    ['recurrence', 'TEXT', 0, null, 0],
    ['kind', 'TEXT', 1, null, 0],
    ['platform_id', 'TEXT', 0, null, 0],
    ['channel_type', 'TEXT', 0, null, 0],
    ['thread_id', 'TEXT', 0, null, 0],
    ['content', 'TEXT', 1, null, 0],
  ],
  processing_ack: [
    ['message_id', 'TEXT', 0, null, 1],
    ['status', 'TEXT', 1, null, 0],
    ['status_changed', 'TEXT', 1, null, 0],
  ],
  session_state: [
    ['key', 'TEXT', 0, null, 1],
    ['value', 'TEXT', 1, null, 0],
    ['updated_at', 'TEXT', 1, null, 0],
  ],
};

/** Indexes per table, as `indexesOf` prints them (`<pk>`/`<u>` are SQLite's automatic ones). */
const INBOUND_INDEXES: Record<string, string[]> = {
  delivered: ['<pk>(unique):message_out_id'],
  destinations: ['<pk>(unique):name'],
  messages_in: [
    '<pk>(unique):id',
    '<u>(unique):seq',
    'idx_messages_in_series:series_id',
    'idx_messages_in_status:status',
  ],
  session_routing: [],
};
const OUTBOUND_INDEXES: Record<string, string[]> = {
  container_state: [],
  messages_out: ['<pk>(unique):id', '<u>(unique):seq'],
  processing_ack: ['<pk>(unique):message_id'],
  session_state: ['<pk>(unique):key'],
};

const NOW = '2024-05-01T12:00:00.000Z';

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function insertIn(db: Db, id: string): number {
  return insertMessageIn(db, { id, kind: 'chat', timestamp: NOW, content: JSON.stringify({ text: id }) });
}

function messageIds(path: string): string[] {
  return peek(path, (db) => db.prepare('SELECT id FROM messages_in ORDER BY seq').all() as { id: string }[]).map(
    (r) => r.id,
  );
}

let dir: string;
let cleanup: () => void;
let inboundPath: string;
let outboundPath: string;

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('store-session-db'));
  inboundPath = join(dir, 'inbound.db');
  outboundPath = join(dir, 'outbound.db');
});

afterEach(() => {
  cleanup();
});

describe('createSessionDbs', () => {
  it('creates both files with exactly the FORMAT.md tables and columns', () => {
    createSessionDbs(inboundPath, outboundPath);

    peek(inboundPath, (db) => {
      expect(tablesOf(db)).toEqual(Object.keys(INBOUND_COLUMNS).sort());
      for (const [table, columns] of Object.entries(INBOUND_COLUMNS)) {
        expect(columnsOf(db, table), table).toEqual(columns);
      }
    });
    peek(outboundPath, (db) => {
      expect(tablesOf(db)).toEqual(Object.keys(OUTBOUND_COLUMNS).sort());
      for (const [table, columns] of Object.entries(OUTBOUND_COLUMNS)) {
        expect(columnsOf(db, table), table).toEqual(columns);
      }
    });
  });

  it('creates the series_id index and the unique seq constraints', () => {
    createSessionDbs(inboundPath, outboundPath);

    peek(inboundPath, (db) => {
      for (const [table, indexes] of Object.entries(INBOUND_INDEXES)) {
        expect(indexesOf(db, table), table).toEqual(indexes);
      }
    });
    peek(outboundPath, (db) => {
      for (const [table, indexes] of Object.entries(OUTBOUND_INDEXES)) {
        expect(indexesOf(db, table), table).toEqual(indexes);
      }
    });
  });

  it('allows only row 1 in session_routing and container_state', () => {
    createSessionDbs(inboundPath, outboundPath);

    withInbound(inboundPath, (db) => {
      db.prepare('INSERT INTO session_routing (id) VALUES (1)').run();
      expect(() => db.prepare('INSERT INTO session_routing (id) VALUES (2)').run()).toThrow(/CHECK constraint/);
    });
    withOutboundWhileStopped(outboundPath, 'stopped', (db) => {
      db.prepare("INSERT INTO container_state (id, updated_at) VALUES (1, 'x')").run();
      expect(() => db.prepare("INSERT INTO container_state (id, updated_at) VALUES (2, 'x')").run()).toThrow(
        /CHECK constraint/,
      );
    });
  });

  it('repairs a half-created session folder without losing rows', () => {
    createSessionDbs(inboundPath, outboundPath);
    withInbound(inboundPath, (db) => insertIn(db, 'm-1'));

    createSessionDbs(inboundPath, outboundPath);

    expect(messageIds(inboundPath)).toEqual(['m-1']);
    peek(inboundPath, (db) => expect(columnsOf(db, 'messages_in')).toEqual(INBOUND_COLUMNS.messages_in));
  });
});

describe('journal mode', () => {
  function expectDeleteMode(): void {
    for (const path of [inboundPath, outboundPath]) {
      expect(headerFormat(path), path).toBe('rollback');
      expect(journalModeOf(path), path).toBe('delete');
    }
    expect(sideFiles(dir)).toEqual([]);
  }

  it('every session DB reports journal_mode delete after creation', () => {
    createSessionDbs(inboundPath, outboundPath);
    expectDeleteMode();
  });

  it('every session DB reports journal_mode delete after withInbound, readOutbound and withOutboundWhileStopped', () => {
    createSessionDbs(inboundPath, outboundPath);

    withInbound(inboundPath, (db) => insertIn(db, 'm-1'));
    expectDeleteMode();
    readOutbound(outboundPath, (db) => db.prepare('SELECT COUNT(*) FROM messages_out').get());
    expectDeleteMode();
    withOutboundWhileStopped(outboundPath, 'stopped', (db) =>
      db
        .prepare("INSERT INTO processing_ack (message_id, status, status_changed) VALUES ('m-1', 'failed', ?)")
        .run(NOW),
    );
    expectDeleteMode();
    readInbound(inboundPath, (db) => listMessagesIn(db));
    expectDeleteMode();
  });

  it.each([
    ['inbound.db', 'withInbound'],
    ['outbound.db', 'withOutboundWhileStopped'],
  ] as const)('switches %s back from WAL to delete mode on the next writable open (%s)', (file, _helper) => {
    createSessionDbs(inboundPath, outboundPath);
    const path = join(dir, file);
    const intruder = new Database(path);
    expect(intruder.pragma('journal_mode = WAL', { simple: true })).toBe('wal');
    intruder.close();
    expect(headerFormat(path)).toBe('wal');

    if (file === 'inbound.db') withInbound(path, (db) => insertIn(db, 'm-1'));
    else withOutboundWhileStopped(path, 'stopped', () => undefined);

    expectDeleteMode();
  });
});

describe('file descriptors', () => {
  type Helper = (fn: (db: Db) => unknown) => unknown;
  const helpers: [string, () => Helper][] = [
    ['withInbound', () => (fn) => withInbound(inboundPath, fn)],
    ['readInbound', () => (fn) => readInbound(inboundPath, fn)],
    ['readOutbound', () => (fn) => readOutbound(outboundPath, fn)],
    ['withOutboundWhileStopped', () => (fn) => withOutboundWhileStopped(outboundPath, 'stopped', fn)],
  ];

  it('leaves no session DB file descriptor open after createSessionDbs', () => {
    createSessionDbs(inboundPath, outboundPath);
    expect(openDbFds(dir)).toEqual([]);
  });

  it.each(helpers)('leaves no session DB file descriptor open after %s succeeds', (_name, make) => {
    createSessionDbs(inboundPath, outboundPath);
    const run = make();
    let during: string[] = [];
    run(() => {
      during = openDbFds(dir);
      return 1;
    });
    // The counter sees the handle while it is open, so an empty count afterwards means closed.
    expect(during.length).toBeGreaterThan(0);
    expect(openDbFds(dir)).toEqual([]);
  });

  it.each(helpers)('leaves no session DB file descriptor open when the callback of %s throws', (_name, make) => {
    createSessionDbs(inboundPath, outboundPath);
    const run = make();
    const boom = new Error('boom');
    let during: string[] = [];
    expect(() =>
      run(() => {
        during = openDbFds(dir);
        throw boom;
      }),
    ).toThrow(boom);
    expect(during.length).toBeGreaterThan(0);
    expect(openDbFds(dir)).toEqual([]);
  });

  it('leaves no session DB file descriptor open when withOutboundWhileStopped refuses', () => {
    createSessionDbs(inboundPath, outboundPath);
    expect(() => withOutboundWhileStopped(outboundPath, 'running', () => 1)).toThrow(RuntimeError);
    expect(openDbFds(dir)).toEqual([]);
  });
});

describe('withInbound', () => {
  it('commits everything the callback wrote and returns its result', () => {
    createSessionDbs(inboundPath, outboundPath);
    const seqs = withInbound(inboundPath, (db) => [insertIn(db, 'm-1'), insertIn(db, 'm-2')]);
    expect(seqs).toEqual([2, 4]);
    expect(messageIds(inboundPath)).toEqual(['m-1', 'm-2']);
  });

  it('commits atomically: a throw in the callback leaves no rows', () => {
    createSessionDbs(inboundPath, outboundPath);
    const boom = new Error('boom');
    expect(() =>
      withInbound(inboundPath, (db) => {
        insertIn(db, 'm-1');
        insertIn(db, 'm-2');
        throw boom;
      }),
    ).toThrow(boom);
    expect(messageIds(inboundPath)).toEqual([]);
  });

  it('runs a nested db.transaction as a savepoint: an inner failure caught leaves the other rows to commit', () => {
    createSessionDbs(inboundPath, outboundPath);
    const caught = withInbound(inboundPath, (db) => {
      insertIn(db, 'm-1');
      let error: unknown;
      try {
        db.transaction(() => {
          insertIn(db, 'm-2');
          throw new Error('inner');
        })();
      } catch (e) {
        error = e;
      }
      db.transaction(() => insertIn(db, 'm-3'))();
      return error;
    });
    expect(caught).toEqual(new Error('inner'));
    expect(messageIds(inboundPath)).toEqual(['m-1', 'm-3']);
  });

  it('holds the write lock for the whole callback', () => {
    createSessionDbs(inboundPath, outboundPath);
    withInbound(inboundPath, (db) => {
      expect(db.inTransaction).toBe(true);
      const other = new Database(inboundPath, { timeout: 0 });
      try {
        expect(() => other.prepare('BEGIN IMMEDIATE').run()).toThrow(/locked/);
      } finally {
        other.close();
      }
    });
  });

  it('refuses a path where no session DB was created', () => {
    expect(() => withInbound(join(dir, 'missing.db'), () => 1)).toThrow();
    expect(existsSync(join(dir, 'missing.db'))).toBe(false);
  });
});

describe('immediateTransaction', () => {
  /** A connection to a scratch file whose child rows must point at a parent by COMMIT time. */
  function deferredForeignKeys(): Db {
    const db = new Database(join(dir, 'fk.db'));
    db.pragma('foreign_keys = ON');
    db.exec(`CREATE TABLE parent (id INTEGER PRIMARY KEY);
      CREATE TABLE child (id INTEGER PRIMARY KEY,
        parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)`);
    return db;
  }
  const childCount = (db: Db) => (db.prepare('SELECT COUNT(*) AS n FROM child').get() as { n: number }).n;

  it('commits what the callback wrote and returns its value', () => {
    const db = deferredForeignKeys();
    try {
      const value = immediateTransaction(db, (d) => {
        d.prepare('INSERT INTO parent (id) VALUES (1)').run();
        return d.prepare('INSERT INTO child (id, parent_id) VALUES (1, 1)').run().changes;
      });
      expect(value).toBe(1);
      expect(db.inTransaction).toBe(false);
      expect(childCount(db)).toBe(1);
    } finally {
      db.close();
    }
  });

  it('rolls back and rethrows when the COMMIT itself fails, leaving no transaction open', () => {
    const db = deferredForeignKeys();
    try {
      // The dangling reference is only checked at COMMIT, so the callback returns normally.
      expect(() =>
        immediateTransaction(db, (d) => d.prepare('INSERT INTO child (id, parent_id) VALUES (1, 42)').run()),
      ).toThrow(/FOREIGN KEY/);
      expect(db.inTransaction).toBe(false);
      expect(childCount(db)).toBe(0);
      // The connection is still usable for the next transaction.
      immediateTransaction(db, (d) => d.prepare('INSERT INTO parent (id) VALUES (7)').run());
      expect(db.prepare('SELECT id FROM parent').all()).toEqual([{ id: 7 }]);
    } finally {
      db.close();
    }
  });

  it('takes the write lock at BEGIN, before the callback runs', () => {
    createSessionDbs(inboundPath, outboundPath);
    const db = new Database(inboundPath);
    const other = new Database(inboundPath, { timeout: 0 });
    try {
      immediateTransaction(db, () => {
        expect(() => other.prepare('BEGIN IMMEDIATE').run()).toThrow(/locked/);
      });
    } finally {
      other.close();
      db.close();
    }
  });
});

describe('withOutboundWhileStopped', () => {
  it.each(['running', 'idle'] as const)(
    'refuses with CONTAINER_RUNNING while the container is %s, without opening or modifying the file',
    (status: ContainerStatus) => {
      createSessionDbs(inboundPath, outboundPath);
      const before = { mtime: statSync(outboundPath).mtimeMs, sha: sha(outboundPath) };
      let called = false;

      let thrown: unknown;
      try {
        withOutboundWhileStopped(outboundPath, status, () => {
          called = true;
        });
      } catch (error) {
        thrown = error;
      }

      expect(isRuntimeError(thrown, 'CONTAINER_RUNNING')).toBe(true);
      expect(called).toBe(false);
      expect(statSync(outboundPath).mtimeMs).toBe(before.mtime);
      expect(sha(outboundPath)).toBe(before.sha);
      expect(sideFiles(dir)).toEqual([]);
    },
  );

  it('refuses before touching the disk at all, even for a path that does not exist', () => {
    const missing = join(dir, 'never.db');
    expect(() => withOutboundWhileStopped(missing, 'running', () => 1)).toThrow(
      expect.objectContaining({ code: 'CONTAINER_RUNNING' }),
    );
    expect(existsSync(missing)).toBe(false);
  });

  it('writes outbound.db while the container is stopped', () => {
    createSessionDbs(inboundPath, outboundPath);
    withOutboundWhileStopped(outboundPath, 'stopped', (db) => {
      db.prepare("INSERT INTO processing_ack (message_id, status, status_changed) VALUES ('m-1', 'processing', ?)").run(
        NOW,
      );
    });
    withOutboundWhileStopped(outboundPath, 'stopped', (db) => {
      db.prepare("DELETE FROM processing_ack WHERE status = 'processing'").run();
      db.prepare("INSERT INTO processing_ack (message_id, status, status_changed) VALUES ('m-2', 'completed', ?)").run(
        NOW,
      );
    });
    const rows = peek(outboundPath, (db) => db.prepare('SELECT message_id, status FROM processing_ack').all());
    expect(rows).toEqual([{ message_id: 'm-2', status: 'completed' }]);
  });

  it('commits atomically: a throw in the callback leaves outbound.db unchanged', () => {
    createSessionDbs(inboundPath, outboundPath);
    expect(() =>
      withOutboundWhileStopped(outboundPath, 'stopped', (db) => {
        db.prepare("INSERT INTO session_state (key, value, updated_at) VALUES ('k', 'v', ?)").run(NOW);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(peek(outboundPath, (db) => db.prepare('SELECT COUNT(*) AS n FROM session_state').get())).toEqual({ n: 0 });
  });
});

describe('readOutbound', () => {
  it('is read-only: a write inside throws SQLITE_READONLY', () => {
    createSessionDbs(inboundPath, outboundPath);
    const code = readOutbound(outboundPath, (db) => {
      try {
        db.prepare("INSERT INTO session_state (key, value, updated_at) VALUES ('k', 'v', 'now')").run();
      } catch (error) {
        return (error as { code?: string }).code;
      }
      return 'no error';
    });
    expect(code).toBe('SQLITE_READONLY');
    expect(peek(outboundPath, (db) => db.prepare('SELECT COUNT(*) AS n FROM session_state').get())).toEqual({ n: 0 });
  });

  it('sees rows committed by another connection that stays open', () => {
    createSessionDbs(inboundPath, outboundPath);
    const container = new Database(outboundPath);
    try {
      const insert = container.prepare(
        "INSERT INTO messages_out (id, seq, timestamp, kind, content) VALUES (?, ?, ?, 'chat', '{}')",
      );
      const ids = () =>
        readOutbound(outboundPath, (db) =>
          (db.prepare('SELECT id FROM messages_out ORDER BY seq').all() as { id: string }[]).map((r) => r.id),
        );

      expect(ids()).toEqual([]);
      insert.run('o-1', 1, NOW);
      expect(ids()).toEqual(['o-1']);
      insert.run('o-2', 3, NOW);
      expect(ids()).toEqual(['o-1', 'o-2']);
    } finally {
      container.close();
    }
  });
});

describe('readInbound', () => {
  it('is read-only: a write inside throws SQLITE_READONLY', () => {
    createSessionDbs(inboundPath, outboundPath);
    expect(() => readInbound(inboundPath, (db) => insertIn(db, 'm-1'))).toThrow(
      expect.objectContaining({ code: 'SQLITE_READONLY' }),
    );
    expect(messageIds(inboundPath)).toEqual([]);
  });
});

describe('older session folders', () => {
  const OLDEST_SQL = readFileSync(new URL('../fixtures/store/oldest-inbound.sql', import.meta.url), 'utf8');
  const OLD_MESSAGES_IN = [
    'id',
    'seq',
    'kind',
    'timestamp',
    'status',
    'process_after',
    'recurrence',
    'tries',
    'platform_id',
    'channel_type',
    'thread_id',
    'content',
  ];
  const ADDED_MESSAGES_IN = ['series_id', 'trigger', 'source_session_id', 'on_wake'];

  function buildOldest(extraSql = ''): void {
    const db = new Database(inboundPath);
    try {
      db.exec(OLDEST_SQL);
      db.exec(`
        INSERT INTO messages_in (id, seq, kind, timestamp, status, tries, platform_id, channel_type, content)
          VALUES ('m-1', 2, 'chat', '2023-01-01T00:00:00Z', 'completed', 1, 'C1', 'slack', '{"text":"one"}');
        INSERT INTO messages_in (id, seq, kind, timestamp, recurrence, content)
          VALUES ('m-2', 4, 'task', '2023-01-02T00:00:00Z', '0 9 * * *', '{"prompt":"two"}');
        INSERT INTO delivered (message_out_id, delivered_at) VALUES ('o-1', '2023-01-01T00:00:01Z');
        INSERT INTO destinations (name, type, channel_type, platform_id) VALUES ('main', 'channel', 'slack', 'C1');
        INSERT INTO session_routing (id, channel_type, platform_id) VALUES (1, 'slack', 'C1');
      `);
      db.exec(extraSql);
    } finally {
      db.close();
    }
  }

  it('has a fixture that really lacks the added columns', () => {
    buildOldest();
    peek(inboundPath, (db) => {
      expect(columnsOf(db, 'messages_in').map((c) => c[0])).toEqual(OLD_MESSAGES_IN);
      expect(columnsOf(db, 'delivered').map((c) => c[0])).toEqual(['message_out_id', 'delivered_at']);
      expect(indexesOf(db, 'messages_in')).not.toContain('idx_messages_in_series:series_id');
    });
  });

  it('migrates a session DB built with the oldest column set', () => {
    buildOldest();

    withInbound(inboundPath, () => undefined);

    peek(inboundPath, (db) => {
      // Every current column is there with its current type, NOT NULL and default…
      for (const [table, columns] of Object.entries(INBOUND_COLUMNS)) {
        const byName = (cs: readonly Column[]) => [...cs].sort((a, b) => a[0].localeCompare(b[0]));
        expect(byName(columnsOf(db, table)), table).toEqual(byName(columns));
      }
      // …and the added ones come after the old ones, in the order FORMAT.md lists them.
      expect(columnsOf(db, 'messages_in').map((c) => c[0])).toEqual([...OLD_MESSAGES_IN, ...ADDED_MESSAGES_IN]);
      expect(columnsOf(db, 'delivered').map((c) => c[0])).toEqual([
        'message_out_id',
        'delivered_at',
        'platform_message_id',
        'status',
      ]);
      expect(indexesOf(db, 'messages_in')).toContain('idx_messages_in_series:series_id');

      expect(db.prepare('SELECT * FROM messages_in ORDER BY seq').all()).toEqual([
        {
          id: 'm-1',
          seq: 2,
          kind: 'chat',
          timestamp: '2023-01-01T00:00:00Z',
          status: 'completed',
          process_after: null,
          recurrence: null,
          tries: 1,
          platform_id: 'C1',
          channel_type: 'slack',
          thread_id: null,
          content: '{"text":"one"}',
          series_id: 'm-1',
          trigger: 1,
          source_session_id: null,
          on_wake: 0,
        },
        {
          id: 'm-2',
          seq: 4,
          kind: 'task',
          timestamp: '2023-01-02T00:00:00Z',
          status: 'pending',
          process_after: null,
          recurrence: '0 9 * * *',
          tries: 0,
          platform_id: null,
          channel_type: null,
          thread_id: null,
          content: '{"prompt":"two"}',
          series_id: 'm-2',
          trigger: 1,
          source_session_id: null,
          on_wake: 0,
        },
      ]);
      expect(db.prepare('SELECT * FROM delivered').all()).toEqual([
        { message_out_id: 'o-1', delivered_at: '2023-01-01T00:00:01Z', platform_message_id: null, status: 'delivered' },
      ]);
      expect(db.prepare('SELECT name, type FROM destinations').all()).toEqual([{ name: 'main', type: 'channel' }]);
      expect(db.prepare('SELECT id, channel_type, platform_id FROM session_routing').all()).toEqual([
        { id: 1, channel_type: 'slack', platform_id: 'C1' },
      ]);
    });
    expect(headerFormat(inboundPath)).toBe('rollback');
    expect(sideFiles(dir)).toEqual([]);
  });

  it('writes new rows into a migrated file with the next even seq', () => {
    buildOldest();
    const seq = withInbound(inboundPath, (db) => insertIn(db, 'm-3'));
    expect(seq).toBe(6);
    expect(messageIds(inboundPath)).toEqual(['m-1', 'm-2', 'm-3']);
  });

  it('treats a second open of a migrated file as a no-op', () => {
    buildOldest();
    withInbound(inboundPath, () => undefined);
    const schemaVersion = () => peek(inboundPath, (db) => db.pragma('schema_version', { simple: true }));
    const before = { version: schemaVersion(), sha: sha(inboundPath) };

    withInbound(inboundPath, () => undefined);

    expect(schemaVersion()).toBe(before.version);
    expect(sha(inboundPath)).toBe(before.sha);
  });

  it('treats opening a current file as a no-op for its schema', () => {
    createSessionDbs(inboundPath, outboundPath);
    const schemaVersion = () => peek(inboundPath, (db) => db.pragma('schema_version', { simple: true }));
    const before = schemaVersion();
    withInbound(inboundPath, (db) => insertIn(db, 'm-1'));
    expect(schemaVersion()).toBe(before);
  });

  it('rolls back a half-done migration so the next open back-fills series_id', () => {
    // A trigger makes the series_id back-fill fail after the column has been added.
    buildOldest(`
      CREATE TRIGGER refuse_backfill BEFORE UPDATE ON messages_in WHEN OLD.id = 'm-2'
      BEGIN SELECT RAISE(ABORT, 'backfill refused'); END;
    `);

    expect(() => withInbound(inboundPath, () => undefined)).toThrow('backfill refused');
    peek(inboundPath, (db) => expect(columnsOf(db, 'messages_in').map((c) => c[0])).toEqual(OLD_MESSAGES_IN));

    const db = new Database(inboundPath);
    db.exec('DROP TRIGGER refuse_backfill');
    db.close();
    withInbound(inboundPath, () => undefined);

    expect(peek(inboundPath, (d) => d.prepare('SELECT id, series_id FROM messages_in ORDER BY seq').all())).toEqual([
      { id: 'm-1', series_id: 'm-1' },
      { id: 'm-2', series_id: 'm-2' },
    ]);
  });
});
