/**
 * Shared helpers for the store tests: a fresh temp directory per test, schema introspection
 * through `pragma_table_info` / `pragma_index_list`, and counting the session DB file
 * descriptors this process holds.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Creates a temp directory and returns it with its cleanup. */
export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
  // The real path, so it compares equal to what /proc/self/fd links resolve to.
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `${prefix}-`)));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One column as `pragma_table_info` reports it: [name, type, notnull, dflt_value, pk]. */
export type Column = readonly [name: string, type: string, notnull: 0 | 1, dflt: string | null, pk: number];

export function columnsOf(db: Database.Database, table: string): Column[] {
  const rows = db
    .prepare('SELECT name, type, "notnull" AS nn, dflt_value AS dflt, pk FROM pragma_table_info(?) ORDER BY cid')
    .all(table) as { name: string; type: string; nn: 0 | 1; dflt: string | null; pk: number }[];
  return rows.map((r) => [r.name, r.type, r.nn, r.dflt, r.pk] as const);
}

export function tablesOf(db: Database.Database): string[] {
  const rows = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all() as { name: string }[];
  return rows.map((r) => r.name);
}

/** Every index of `table` as `name(unique):col,col`, sorted; auto-indexes are shown by their columns. */
export function indexesOf(db: Database.Database, table: string): string[] {
  const list = db.prepare('SELECT name, "unique" AS u, origin FROM pragma_index_list(?)').all(table) as {
    name: string;
    u: 0 | 1;
    origin: string;
  }[];
  return list
    .map((idx) => {
      const cols = (
        db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').all(idx.name) as { name: string }[]
      ).map((c) => c.name);
      const label = idx.origin === 'c' ? idx.name : `<${idx.origin}>`;
      return `${label}${idx.u === 1 ? '(unique)' : ''}:${cols.join(',')}`;
    })
    .sort();
}

/** Opens `path` read-only, runs `fn` and closes it: an outside observer of a file. */
export function peek<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export function journalModeOf(path: string): string {
  return peek(path, (db) => db.pragma('journal_mode', { simple: true }) as string);
}

/** File descriptors of this process that point at a `.db` file under `dir`. */
export function openDbFds(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(join('/proc/self/fd', fd));
    } catch {
      // The descriptor used to list the directory itself is gone by the time we read it.
      continue;
    }
    if (target.startsWith(dir) && target.endsWith('.db')) out.push(target);
  }
  return out;
}

/** Side files SQLite leaves next to a DB while a journal or WAL is live. */
export function sideFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => /-(wal|shm|journal)$/.test(f));
}

/**
 * Bytes 18–19 of the SQLite header (file format write/read version): 1 for a rollback-journal
 * file, 2 for a WAL file. Read straight from disk, so asking never changes the file.
 */
export function headerFormat(path: string): 'rollback' | 'wal' {
  const header = readFileSync(path).subarray(18, 20);
  if (header[0] === 2 && header[1] === 2) return 'wal';
  if (header[0] === 1 && header[1] === 1) return 'rollback';
  throw new Error(`unexpected header bytes ${header[0]} ${header[1]} in ${path}`);
}
