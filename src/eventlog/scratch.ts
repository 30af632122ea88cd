/**
 * The replay directory is scratch: nothing but the replay reads it, and the digest compares rows,
 * not bytes. So its session DBs are created without a sync to disk, and each session keeps one
 * open connection (rollback journal in memory, one exclusive lock) for all its batches.
 *
 * Invariants (guarded by test/eventlog/fixtures.test.ts, whose digests were taken from live runs):
 * 1. A scratch session folder has exactly what the registry would create: `inbox/`, `outbox/`,
 *    and both DBs built by the same schema functions (`ensureInboundSchema`,
 *    `ensureOutboundSchema`), so the registry finds it complete and leaves it as it is.
 * 2. Only ids that are safe path segments ever become paths; anything else is left to the
 *    registry, which refuses it.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import type { SessionPaths } from '../files/paths.js';
import { isSafeSegment } from '../files/segment.js';
import { ensureInboundSchema, ensureOutboundSchema } from '../store/session-schema.js';
import type { Db } from '../store/session-db.js';

function createScratchDb(path: string, schema: (db: Db) => void): void {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = DELETE');
    db.pragma('synchronous = OFF');
    db.exec('BEGIN IMMEDIATE');
    schema(db);
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}

/**
 * Creates the folder of a session the log says was created, before the registry's resolution
 * runs again, so that resolution finds it and skips its own (synced) creation.
 */
export function createScratchSessionFolder(paths: SessionPaths, agentGroupId: unknown, sessionId: unknown): void {
  if (!isSafeSegment(agentGroupId) || !isSafeSegment(sessionId)) return;
  const inbound = paths.inboundDbPath(agentGroupId, sessionId);
  if (existsSync(inbound)) return;
  mkdirSync(paths.inboxDir(agentGroupId, sessionId), { recursive: true });
  mkdirSync(paths.outboxDir(agentGroupId, sessionId), { recursive: true });
  createScratchDb(inbound, ensureInboundSchema);
  createScratchDb(paths.outboundDbPath(agentGroupId, sessionId), ensureOutboundSchema);
}

/** The one connection a replayed session's batches run on: no sync, journal in memory. */
export function openScratchConnection(inboundDbPath: string): Db {
  const connection = new Database(inboundDbPath, { fileMustExist: true });
  connection.pragma('synchronous = OFF');
  connection.pragma('journal_mode = MEMORY');
  connection.pragma('locking_mode = EXCLUSIVE');
  return connection;
}
