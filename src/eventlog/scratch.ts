/**
 * The replay directory is scratch: nothing but the replay reads it, and the digest compares rows,
 * not bytes. So its session DBs are created without a sync to disk, and each session keeps one
 * open connection (rollback journal in memory, one exclusive lock) for all its batches.
 *
 * Invariants (guarded by test/eventlog/fixtures.test.ts, whose digests were taken from live runs):
 * 1. A scratch session folder has exactly what the registry would create: `inbox/`, `outbox/`,
 *    and both DBs built by the same schema functions (`ensureInboundSchema`,
 *    `ensureOutboundSchema`) — once per process, in memory, then written out as the file of each
 *    new session — so the registry finds it complete and leaves it as it is.
 * 2. Only ids that are safe path segments ever become paths; anything else is left to the
 *    registry, which refuses it.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import type { SessionPaths } from '../files/paths.js';
import { isSafeSegment } from '../files/segment.js';
import { ensureInboundSchema, ensureOutboundSchema } from '../store/session-schema.js';
import type { Db } from '../store/session-db.js';

/** The bytes of a new database file holding `schema` (a rollback-journal file, as on disk). */
function databaseImage(schema: (db: Db) => void): Buffer {
  const db = new Database(':memory:');
  try {
    db.exec('BEGIN IMMEDIATE');
    schema(db);
    db.exec('COMMIT');
    return db.serialize();
  } finally {
    db.close();
  }
}

let images: { inbound: Buffer; outbound: Buffer } | undefined;

/**
 * Creates the folder of a session the log says was created, before the registry's resolution
 * runs again, so that resolution finds it and skips its own (synced) creation.
 */
export function createScratchSessionFolder(paths: SessionPaths, agentGroupId: unknown, sessionId: unknown): void {
  if (!isSafeSegment(agentGroupId) || !isSafeSegment(sessionId)) return;
  const inbound = paths.inboundDbPath(agentGroupId, sessionId);
  if (existsSync(inbound)) return;
  images ??= { inbound: databaseImage(ensureInboundSchema), outbound: databaseImage(ensureOutboundSchema) };
  mkdirSync(paths.inboxDir(agentGroupId, sessionId), { recursive: true });
  mkdirSync(paths.outboxDir(agentGroupId, sessionId), { recursive: true });
  writeFileSync(inbound, images.inbound, { flag: 'wx' });
  writeFileSync(paths.outboundDbPath(agentGroupId, sessionId), images.outbound, { flag: 'wx' });
}

/** The one connection a replayed session's batches run on: no sync, journal in memory. */
export function openScratchConnection(inboundDbPath: string): Db {
  const connection = new Database(inboundDbPath, { fileMustExist: true });
  connection.pragma('synchronous = OFF');
  connection.pragma('journal_mode = MEMORY');
  connection.pragma('locking_mode = EXCLUSIVE');
  return connection;
}
