/**
 * `digestDataDir`: a hash of the host-owned state of a data directory — the central rows and the
 * rows of every session's `inbound.db` — in a canonical order (tables by name, rows by primary
 * key, columns by name), so two directories with the same state hash alike whatever their file
 * bytes, page layout or column order (test/eventlog/digest.test.ts).
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CENTRAL_DB_FILE, SESSIONS_DIR } from '../files/paths.js';

const CENTRAL_TABLES: [table: string, orderBy: string][] = [
  ['agent_groups', 'id'],
  ['messaging_groups', 'id'],
  ['outbound_direct', 'session_id, id'],
  ['session_keys', 'key'],
  ['sessions', 'id'],
];

const INBOUND_TABLES: [table: string, orderBy: string][] = [
  ['delivered', 'message_out_id'],
  ['destinations', 'name'],
  ['messages_in', 'id'],
  ['session_routing', 'id'],
];

/**
 * Hashes each row as `JSON.stringify` of its `[column, value]` pairs sorted by column name: the
 * pairs are built once per table, in that order, and refilled from each raw row, so a row costs
 * one `JSON.stringify` (the bytes are those of `JSON.stringify(Object.keys(row).sort().map((k) =>
 * [k, row[k]]))`). Rows are hashed in chunks.
 */
function hashTables(sink: (text: string) => void, path: string, tables: [string, string][], label: string): void {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    for (const [table, orderBy] of tables) {
      const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
      sink(`\n#${label}/${table}\n`);
      if (exists === undefined) continue;
      const select = db.prepare(`SELECT * FROM ${table} ORDER BY ${orderBy}`).raw(true);
      const names = select.columns().map((c) => c.name);
      const order = names.map((_, i) => i).sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
      const pairs: [string, unknown][] = order.map((i) => [names[i]!, null]);
      let chunk = '';
      for (const row of select.all() as unknown[][]) {
        for (let j = 0; j < order.length; j++) pairs[j]![1] = row[order[j]!];
        chunk += `${JSON.stringify(pairs)}\n`;
        if (chunk.length > 65536) {
          sink(chunk);
          chunk = '';
        }
      }
      sink(chunk);
    }
  } finally {
    db.close();
  }
}

function sortedDirs(path: string): string[] {
  if (!existsSync(path)) return [];
  return readdirSync(path, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** One session's `inbound.db` as the digest sees it: its path and its label (`ag/sessionId`). */
export interface DigestFolder {
  path: string;
  label: string;
}

/** The session DBs of `dataDir` in digest order (agent group, then session, by name). */
export function digestFolders(dataDir: string): DigestFolder[] {
  const folders: DigestFolder[] = [];
  const sessionsRoot = join(dataDir, SESSIONS_DIR);
  for (const ag of sortedDirs(sessionsRoot)) {
    for (const sid of sortedDirs(join(sessionsRoot, ag))) {
      const path = join(sessionsRoot, ag, sid, 'inbound.db');
      if (existsSync(path)) folders.push({ path, label: `${ag}/${sid}` });
    }
  }
  return folders;
}

/** The text one session DB adds to the digest (what `digestDataDir` hashes for it). */
export function folderDigestText(folder: DigestFolder): string {
  const parts: string[] = [];
  hashTables((text) => parts.push(text), folder.path, INBOUND_TABLES, folder.label);
  return parts.join('');
}

/**
 * Starts a digest: the tag and the central rows are hashed; the caller adds each session DB's
 * text (`folderDigestText`) in `digestFolders` order, then calls `digest('hex')`.
 */
export function startDigest(dataDir: string): ReturnType<typeof createHash> {
  const hash = createHash('sha256');
  hash.update('session-actors/digest/1');
  const central = join(dataDir, CENTRAL_DB_FILE);
  if (existsSync(central)) hashTables((text) => hash.update(text), central, CENTRAL_TABLES, 'central');
  return hash;
}

/** sha256 (hex) of the host-owned rows of `dataDir`. */
export function digestDataDir(dataDir: string): string {
  const hash = startDigest(dataDir);
  for (const folder of digestFolders(dataDir)) {
    hashTables((text) => hash.update(text), folder.path, INBOUND_TABLES, folder.label);
  }
  return hash.digest('hex');
}
