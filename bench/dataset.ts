/**
 * Builds a data directory with N sessions fast, for the benchmarks and `scripts/build-dataset.ts`:
 * the central rows in one transaction, and every session folder by writing the bytes of one
 * template `inbound.db`/`outbound.db` pair (made once with the real schemas) into it.
 *
 * Invariants:
 * 1. The result is what N `per-thread` resolutions (one agent group, one messaging group, thread
 *    `t-<i>`) leave behind: the central rows of src/store/central.ts (agent group, messaging group,
 *    `sessions`, `session_keys` with the runtime's own `resolutionKey`), and per session its folder
 *    with `inbox/`, `outbox/` and both DBs (schemas of src/store/session-schema.ts,
 *    journal_mode=DELETE). test/bench/dataset.test.ts opens one with `createRuntime` and resolves
 *    and writes to its sessions.
 * 2. Every session file is a file of its own, written from the template's bytes: never a hard link
 *    (the runtime refuses hard-linked session files as unsafe) and never a symlink.
 * 3. It refuses a directory that already holds a `v2.db`: it only ever builds from nothing.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createPaths } from '../src/index.js';
import { CENTRAL_SCHEMA, RUNTIME_SCHEMA, resolutionKey } from '../src/store/central.js';
import { ensureInboundSchema, ensureOutboundSchema } from '../src/store/session-schema.js';

export const AGENT_GROUP = 'ag-bench';
export const MESSAGING_GROUP = 'mg-bench';
export const CHANNEL_TYPE = 'bench';
export const PLATFORM_ID = 'C-bench';
/** Creation time of session 0; session i was created i ms later. */
const EPOCH_MS = Date.UTC(2026, 0, 1);

export interface DatasetOptions {
  dataDir: string;
  sessions: number;
}

export interface Dataset {
  dataDir: string;
  agentGroupId: string;
  messagingGroupId: string;
  channelType: string;
  platformId: string;
  /** `sessionIds[i]` is the session of thread `threadIdFor(i)`. */
  sessionIds: string[];
  seconds: { central: number; folders: number; total: number };
}

/** The id FORMAT.md's shape gives a minted session: `sess-<epoch-ms>-<6 base36 chars>`. */
export function sessionIdFor(i: number): string {
  return `sess-${EPOCH_MS}-${i.toString(36).padStart(6, '0')}`;
}

export function threadIdFor(i: number): string {
  return `t-${i}`;
}

function createDb(path: string, schema: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    const mode = db.pragma('journal_mode = DELETE', { simple: true });
    if (mode !== 'delete') throw new Error(`journal_mode stayed ${String(mode)} on ${path}`);
    db.exec('BEGIN IMMEDIATE');
    schema(db);
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}

/** Creates `inbound.db` and `outbound.db` with the real schemas, journal_mode=DELETE. */
export function createSessionDbFiles(inboundPath: string, outboundPath: string): void {
  createDb(inboundPath, ensureInboundSchema);
  createDb(outboundPath, ensureOutboundSchema);
}

/** The bytes of a fresh `inbound.db` and `outbound.db`. */
export function templateBytes(): { inbound: Buffer; outbound: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'sa-bench-template-'));
  try {
    createSessionDbFiles(join(dir, 'inbound.db'), join(dir, 'outbound.db'));
    return { inbound: readFileSync(join(dir, 'inbound.db')), outbound: readFileSync(join(dir, 'outbound.db')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeCentral(dataDir: string, sessions: number): void {
  const db = new Database(join(dataDir, 'v2.db'));
  try {
    // As the runtime's own central connection (src/store/central.ts): WAL is persistent.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(CENTRAL_SCHEMA);
    db.exec(RUNTIME_SCHEMA);
    const created = new Date(EPOCH_MS).toISOString();
    db.transaction(() => {
      db.prepare(
        'INSERT INTO agent_groups (id, name, folder, agent_provider, created_at) VALUES (?, ?, ?, NULL, ?)',
      ).run(AGENT_GROUP, 'Bench', 'bench', created);
      db.prepare(
        `INSERT INTO messaging_groups (id, channel_type, platform_id, name, is_group, unknown_sender_policy, created_at)
         VALUES (?, ?, ?, 'bench', 0, 'strict', ?)`,
      ).run(MESSAGING_GROUP, CHANNEL_TYPE, PLATFORM_ID, created);
      const session = db.prepare(
        `INSERT INTO sessions (id, agent_group_id, messaging_group_id, thread_id, agent_provider, status,
           container_status, last_active, created_at)
         VALUES (?, ?, ?, ?, NULL, 'active', 'stopped', NULL, ?)`,
      );
      const key = db.prepare('INSERT INTO session_keys (key, mode, agent_group_id, session_id) VALUES (?, ?, ?, ?)');
      for (let i = 0; i < sessions; i++) {
        const id = sessionIdFor(i);
        const thread = threadIdFor(i);
        session.run(id, AGENT_GROUP, MESSAGING_GROUP, thread, new Date(EPOCH_MS + i).toISOString());
        key.run(resolutionKey('per-thread', AGENT_GROUP, MESSAGING_GROUP, thread), 'per-thread', AGENT_GROUP, id);
      }
    })();
  } finally {
    db.close();
  }
}

/** Builds the data directory of invariant 1 at `dataDir` (created if missing). */
export function buildDataset(opts: DatasetOptions): Dataset {
  const { dataDir, sessions } = opts;
  if (!Number.isInteger(sessions) || sessions < 0) throw new Error(`bad session count ${sessions}`);
  if (existsSync(join(dataDir, 'v2.db'))) throw new Error(`${dataDir} already holds a v2.db`);
  const t0 = performance.now();
  mkdirSync(dataDir, { recursive: true });
  writeCentral(dataDir, sessions);
  const t1 = performance.now();
  const paths = createPaths(dataDir);
  const template = templateBytes();
  const sessionIds: string[] = new Array(sessions);
  if (sessions > 0) mkdirSync(join(paths.sessionDir(AGENT_GROUP, sessionIdFor(0)), '..'), { recursive: true });
  for (let i = 0; i < sessions; i++) {
    const id = sessionIdFor(i);
    sessionIds[i] = id;
    mkdirSync(paths.sessionDir(AGENT_GROUP, id));
    mkdirSync(paths.inboxDir(AGENT_GROUP, id));
    mkdirSync(paths.outboxDir(AGENT_GROUP, id));
    writeFileSync(paths.inboundDbPath(AGENT_GROUP, id), template.inbound, { flag: 'wx' });
    writeFileSync(paths.outboundDbPath(AGENT_GROUP, id), template.outbound, { flag: 'wx' });
  }
  const t2 = performance.now();
  return {
    dataDir,
    agentGroupId: AGENT_GROUP,
    messagingGroupId: MESSAGING_GROUP,
    channelType: CHANNEL_TYPE,
    platformId: PLATFORM_ID,
    sessionIds,
    seconds: { central: (t1 - t0) / 1000, folders: (t2 - t1) / 1000, total: (t2 - t0) / 1000 },
  };
}

/**
 * Reads back a data directory written by `buildDataset` (or `scripts/build-dataset.ts`): its
 * active sessions of the bench agent group, in creation order, so that `sessionIds[i]` is thread
 * `t-<i>`'s. Fails if the directory was not built that way.
 */
export function loadDataset(dataDir: string): Dataset {
  const db = new Database(join(dataDir, 'v2.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT id, thread_id FROM sessions WHERE agent_group_id = ? AND messaging_group_id = ?
           AND COALESCE(status, 'active') = 'active' ORDER BY created_at, id`,
      )
      .all(AGENT_GROUP, MESSAGING_GROUP) as { id: string; thread_id: string | null }[];
    rows.forEach((r, i) => {
      if (r.id !== sessionIdFor(i) || r.thread_id !== threadIdFor(i))
        throw new Error(`${dataDir} was not built by buildDataset: session ${i} is ${r.id} (${String(r.thread_id)})`);
    });
    return {
      dataDir,
      agentGroupId: AGENT_GROUP,
      messagingGroupId: MESSAGING_GROUP,
      channelType: CHANNEL_TYPE,
      platformId: PLATFORM_ID,
      sessionIds: rows.map((r) => r.id),
      seconds: { central: 0, folders: 0, total: 0 },
    };
  } finally {
    db.close();
  }
}
