/**
 * `digestDataDir` hashes the host-owned state (central rows, every inbound.db's rows) and nothing
 * else: the same rows give the same digest whatever their physical order or column order, any
 * change to a row changes it, and files the host does not own (outbound.db, inbox/outbox files,
 * the heartbeat, strangers in the data directory) never do.
 */
import Database from 'better-sqlite3';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { digestDataDir } from '../../src/eventlog/digest.js';
import { CENTRAL_DB_FILE } from '../../src/files/paths.js';
import { ensureInboundSchema } from '../../src/store/session-schema.js';
import { nextEvent } from '../helpers/events.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir('sa-digest-');
const OLDEST_SQL = readFileSync(new URL('../fixtures/store/oldest-inbound.sql', import.meta.url), 'utf8');

interface Built {
  dir: string;
  shared: string;
  thread: string;
  central: string;
  inbound(sessionId: string): string;
  outbound(sessionId: string): string;
  sessionDir(sessionId: string): string;
}

/** A small data directory built through the runtime (no containers, simulated clock, sequential ids). */
async function build(dir: string): Promise<Built> {
  const silent = { deliver: async () => ({ platformMessageId: 'p-1' }) };
  const { rt } = await testRuntime(dir, { channels: { slack: silent } });
  await rt.upsertMessagingGroup({ id: 'mg-discord', channelType: 'discord', platformId: 'D1', isGroup: true });
  const shared = (
    await rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-slack', threadId: null, mode: 'shared' })
  ).session.id;
  const thread = (
    await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-discord',
      threadId: 't1',
      mode: 'per-thread',
    })
  ).session.id;
  await rt.writeMessage(shared, chat('m1', 'one'));
  await rt.writeMessage(
    shared,
    chat('m2', 'two', {
      content: JSON.stringify({
        text: 'two',
        attachments: [{ name: 'a.txt', data: Buffer.from('abc').toString('base64') }],
      }),
    }),
  );
  await rt.writeMessage(shared, chat('m3', 'three', { trigger: 0, threadId: 'x' }));
  await rt.writeMessage(thread, chat('m1', 'in the thread'));
  await rt.writeSessionRouting(shared);
  await rt.writeSessionRouting(thread);
  const delivered = nextEvent(rt, 'outbound.delivered');
  await rt.writeOutboundDirect(shared, {
    id: 'd1',
    kind: 'chat',
    platformId: 'C123',
    channelType: 'slack',
    threadId: null,
    content: JSON.stringify({ text: 'direct' }),
  });
  await delivered;
  const paths = rt.paths;
  await rt.close();
  return {
    dir,
    shared,
    thread,
    central: join(dir, CENTRAL_DB_FILE),
    inbound: (s) => paths.inboundDbPath('ag-main', s),
    outbound: (s) => paths.outboundDbPath('ag-main', s),
    sessionDir: (s) => paths.sessionDir('ag-main', s),
  };
}

function withDb<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function columns(path: string, table: string): string[] {
  return withDb(path, (db) =>
    (db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as { name: string }[]).map((c) => c.name),
  );
}

interface TableDump {
  name: string;
  sql: string;
  rows: Record<string, unknown>[];
}

function dump(path: string): { tables: TableDump[]; indexes: string[] } {
  return withDb(path, (db) => {
    const tables = (
      db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as {
        name: string;
        sql: string;
      }[]
    ).map((t) => ({ ...t, rows: db.prepare(`SELECT * FROM ${t.name}`).all() as Record<string, unknown>[] }));
    const indexes = (
      db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all() as { sql: string }[]
    ).map((i) => i.sql);
    return { tables, indexes };
  });
}

function removeDb(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}

function insertRows(db: Database.Database, table: string, rows: readonly Record<string, unknown>[]): void {
  for (const row of rows) {
    const cols = Object.keys(row);
    db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`).run(row);
  }
}

/** Rebuilds the DB at `path` with the same schema and rows, every table's rows inserted in reverse. */
function rebuildReversed(path: string): void {
  const { tables, indexes } = dump(path);
  removeDb(path);
  const db = new Database(path);
  try {
    db.transaction(() => {
      for (const t of tables) db.exec(t.sql);
      for (const sql of indexes) db.exec(sql);
      for (const t of tables) insertRows(db, t.name, [...t.rows].reverse());
    })();
  } finally {
    db.close();
  }
}

/** Rebuilds an inbound.db as the oldest version wrote it, migrated to the current columns, then refilled. */
function rebuildMigrated(path: string): void {
  const { tables } = dump(path);
  removeDb(path);
  const db = new Database(path);
  try {
    db.exec(OLDEST_SQL);
    ensureInboundSchema(db);
    db.transaction(() => {
      for (const t of tables) {
        // The host's own tables (host_*) are not part of the container format: created as they were.
        if (t.name.startsWith('host_')) db.exec(t.sql);
        db.prepare(`DELETE FROM ${t.name}`).run();
        insertRows(db, t.name, [...t.rows].reverse());
      }
    })();
  } finally {
    db.close();
  }
}

describe('digestDataDir', () => {
  let base: Built;
  let baseDigest: string;

  /** A copy of the base directory, changed by `change`, and its digest. */
  function variant(change: (b: Built) => void): string {
    const dir = join(tmp(), 'data');
    cpSync(base.dir, dir, { recursive: true });
    const copy: Built = {
      ...base,
      dir,
      central: join(dir, CENTRAL_DB_FILE),
      inbound: (s) => base.inbound(s).replace(base.dir, dir),
      outbound: (s) => base.outbound(s).replace(base.dir, dir),
      sessionDir: (s) => base.sessionDir(s).replace(base.dir, dir),
    };
    change(copy);
    return digestDataDir(dir);
  }

  beforeAll(async () => {
    // Built once for the file, outside useTmpDir's per-test cleanup.
    base = await build(mkdtempSync(join(tmpdir(), 'sa-digest-base-')));
    baseDigest = digestDataDir(base.dir);
    return () => rmSync(base.dir, { recursive: true, force: true });
  });

  it('is a sha256 hex string, stable across calls', () => {
    expect(baseDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(digestDataDir(base.dir)).toBe(baseDigest);
  });

  it('is the same for the same run in another directory', async () => {
    const other = await build(join(tmp(), 'data'));
    expect(digestDataDir(other.dir)).toBe(baseDigest);
  });

  it('of an empty or missing directory is defined and differs from a populated one', () => {
    const empty = tmp();
    expect(digestDataDir(empty)).toBe(digestDataDir(join(empty, 'missing')));
    expect(digestDataDir(empty)).not.toBe(baseDigest);
  });

  it('does not depend on insert order: every table rebuilt with its rows reversed', () => {
    let order: string[] = [];
    const digest = variant((b) => {
      rebuildReversed(b.central);
      rebuildReversed(b.inbound(b.shared));
      rebuildReversed(b.inbound(b.thread));
      order = withDb(b.inbound(b.shared), (db) =>
        (db.prepare('SELECT id FROM messages_in ORDER BY rowid').all() as { id: string }[]).map((r) => r.id),
      );
    });
    expect(order).toEqual(['m3', 'm2', 'm1']); // the physical order really changed
    expect(digest).toBe(baseDigest);
  });

  it('does not depend on column order: an inbound.db migrated from the oldest column set', () => {
    const fresh = columns(base.inbound(base.shared), 'messages_in');
    let migrated: string[] = [];
    const digest = variant((b) => {
      rebuildMigrated(b.inbound(b.shared));
      migrated = columns(b.inbound(b.shared), 'messages_in');
    });
    expect([...migrated].sort()).toEqual([...fresh].sort());
    expect(migrated).not.toEqual(fresh);
    expect(digest).toBe(baseDigest);
  });

  it('does not depend on file layout: VACUUM of every DB', () => {
    const digest = variant((b) => {
      for (const path of [b.central, b.inbound(b.shared), b.inbound(b.thread)]) withDb(path, (db) => db.exec('VACUUM'));
    });
    expect(digest).toBe(baseDigest);
  });

  const changes: [string, (b: Built) => void][] = [
    ['an agent group renamed', (b) => sql(b.central, "UPDATE agent_groups SET name = 'Other'")],
    ['a messaging group flag', (b) => sql(b.central, "UPDATE messaging_groups SET is_group = 1 WHERE id = 'mg-slack'")],
    ['a session status', (b) => sql(b.central, `UPDATE sessions SET status = 'closed' WHERE id = '${b.shared}'`)],
    [
      'a container status',
      (b) => sql(b.central, `UPDATE sessions SET container_status = 'running' WHERE id = '${b.shared}'`),
    ],
    ['last_active', (b) => sql(b.central, `UPDATE sessions SET last_active = '2030-01-01T00:00:00.000Z'`)],
    ['a session key removed', (b) => sql(b.central, `DELETE FROM session_keys WHERE session_id = '${b.thread}'`)],
    [
      'a central outbound_direct row added',
      (b) =>
        sql(
          b.central,
          `INSERT INTO outbound_direct (session_id, id, kind, platform_id, channel_type, thread_id, content, created_at)
           VALUES ('${b.shared}', 'dx', 'chat', NULL, NULL, NULL, '{}', '2026-01-01T00:00:00.000Z')`,
        ),
    ],
    ['a message content', (b) => sql(b.inbound(b.shared), `UPDATE messages_in SET content = '{}' WHERE id = 'm1'`)],
    [
      'a message status',
      (b) => sql(b.inbound(b.shared), `UPDATE messages_in SET status = 'completed' WHERE id = 'm1'`),
    ],
    ['a message tries', (b) => sql(b.inbound(b.shared), `UPDATE messages_in SET tries = 1 WHERE id = 'm2'`)],
    ['a message seq', (b) => sql(b.inbound(b.shared), `UPDATE messages_in SET seq = 100 WHERE id = 'm3'`)],
    ['NULL became empty', (b) => sql(b.inbound(b.shared), `UPDATE messages_in SET thread_id = '' WHERE id = 'm1'`)],
    ['a trigger flag', (b) => sql(b.inbound(b.shared), `UPDATE messages_in SET trigger = 0 WHERE id = 'm1'`)],
    ['a message removed', (b) => sql(b.inbound(b.thread), `DELETE FROM messages_in WHERE id = 'm1'`)],
    [
      'a delivery recorded',
      (b) =>
        sql(
          b.inbound(b.shared),
          "INSERT INTO delivered (message_out_id, platform_message_id, status, delivered_at) VALUES ('d9', 'p9', 'delivered', 'now')",
        ),
    ],
    ['a destination renamed', (b) => sql(b.inbound(b.shared), `UPDATE destinations SET display_name = 'x'`)],
    ['the routing thread', (b) => sql(b.inbound(b.shared), `UPDATE session_routing SET thread_id = 't9'`)],
    [
      'a row moved to the other session',
      (b) => {
        sql(b.inbound(b.thread), `DELETE FROM messages_in WHERE id = 'm1'`);
        withDb(b.inbound(b.shared), (db) => {
          const m1 = db.prepare("SELECT * FROM messages_in WHERE id = 'm1'").get() as Record<string, unknown>;
          db.prepare("DELETE FROM messages_in WHERE id = 'm1'").run();
          withDb(b.inbound(b.thread), (other) => insertRows(other, 'messages_in', [m1]));
        });
      },
    ],
  ];

  it.each(changes)('changes when a row changes: %s', (_what, change) => {
    expect(variant(change)).not.toBe(baseDigest);
  });

  it('does not see outbound.db, inbox/outbox files, the heartbeat or strangers in the data directory', () => {
    const digest = variant((b) => {
      withDb(b.outbound(b.shared), (db) => {
        db.exec(`
          INSERT INTO messages_out (id, seq, timestamp, kind, content) VALUES ('m1-r1', 101, 'now', 'chat', '{"text":"hi"}');
          INSERT INTO processing_ack (message_id, status, status_changed) VALUES ('m1', 'completed', 'now');
          INSERT INTO session_state (key, value, updated_at) VALUES ('k', 'v', 'now');
          DELETE FROM messages_out WHERE id = 'd1';
        `);
      });
      rmSync(b.outbound(b.thread));
      const dir = b.sessionDir(b.shared);
      mkdirSync(join(dir, 'outbox', 'm1-r1'), { recursive: true });
      writeFileSync(join(dir, 'outbox', 'm1-r1', 'answer.txt'), 'answer');
      writeFileSync(join(dir, 'inbox', 'm2', 'a.txt'), 'changed bytes');
      writeFileSync(join(dir, '.heartbeat'), '');
      writeFileSync(join(b.dir, 'notes.txt'), 'not state');
      mkdirSync(join(b.dir, 'v2-sessions', 'ag-main', 'not-a-session'), { recursive: true });
      mkdirSync(join(b.dir, 'v2-sessions', 'ag-ghost'), { recursive: true });
    });
    expect(existsSync(join(base.sessionDir(base.shared), 'inbox', 'm2', 'a.txt'))).toBe(true);
    expect(digest).toBe(baseDigest);
  });
});

function sql(path: string, statement: string): void {
  withDb(path, (db) => {
    const changed = db.prepare(statement).run().changes;
    if (changed === 0) throw new Error(`no row changed by: ${statement}`);
  });
}
