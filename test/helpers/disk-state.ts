/**
 * A data directory as an independent reader sees it: every DB opened directly with better-sqlite3,
 * read-only, with no runtime in between. Used after a crash to check what the killed process left.
 *
 * A DB whose writer died mid-commit keeps a hot rollback journal that a read-only connection may
 * not replay (SQLITE_READONLY_ROLLBACK). Such a DB is copied with its journal into a scratch folder
 * and opened there, so the check sees what the next writer will see (the journal rolled back)
 * while the data directory itself stays as the crash left it.
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, lstatSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const ORPHANED_DIR = '.orphaned';

export interface CheckedDb {
  db: Database.Database;
  /** True when the file held a hot journal and was checked through a rolled-back copy. */
  rolledBack: boolean;
}

let copies = 0;

/** Opens `path` read-only for checking (see the module comment for a hot journal). */
export function openForCheck(path: string, scratchDir: string): CheckedDb {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return { db, rolledBack: false };
  } catch (error) {
    db.close();
    if ((error as { code?: unknown }).code !== 'SQLITE_READONLY_ROLLBACK') throw error;
  }
  const dir = mkdtempSync(join(scratchDir, `rollback-${++copies}-`));
  const copy = join(dir, 'copy.db');
  copyFileSync(path, copy);
  copyFileSync(`${path}-journal`, `${copy}-journal`);
  const rolled = new Database(copy, { fileMustExist: true });
  rolled.prepare('SELECT count(*) FROM sqlite_master').get();
  return { db: rolled, rolledBack: true };
}

/** `PRAGMA integrity_check` as one string: `ok`, or the problems it lists (or the error it raised). */
export function integrityOf(db: Database.Database): string {
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } catch (error) {
    return `integrity_check failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export interface SessionFolder {
  agentGroupId: string;
  sessionId: string;
  dir: string;
}

function isDir(path: string): boolean {
  return lstatSync(path).isDirectory();
}

/** Every folder at `v2-sessions/<ag>/<session>` (the `.orphaned` holding area excluded). */
export function sessionFolders(dataDir: string): SessionFolder[] {
  const root = join(dataDir, 'v2-sessions');
  if (!existsSync(root)) return [];
  const out: SessionFolder[] = [];
  for (const ag of readdirSync(root).sort()) {
    if (ag === ORPHANED_DIR || !isDir(join(root, ag))) continue;
    for (const s of readdirSync(join(root, ag)).sort()) {
      const dir = join(root, ag, s);
      if (isDir(dir)) out.push({ agentGroupId: ag, sessionId: s, dir });
    }
  }
  return out;
}

export interface CentralSessionRow {
  id: string;
  agent_group_id: string;
  messaging_group_id: string | null;
  thread_id: string | null;
  status: string | null;
}

/** The `sessions` rows of `v2.db`, read through a read-only connection. */
export function centralSessions(dataDir: string): CentralSessionRow[] {
  const db = new Database(join(dataDir, 'v2.db'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT id, agent_group_id, messaging_group_id, thread_id, status FROM sessions ORDER BY id')
      .all() as CentralSessionRow[];
  } finally {
    db.close();
  }
}

export interface ParityProblem {
  /** A folder no central row names; a central row with no folder; a row's folder without a DB. */
  kind: 'folder without row' | 'row without folder' | 'missing db';
  /** `<ag>/<session>` */
  session: string;
  text: string;
}

/**
 * Where the central `sessions` rows and the session folders do not match one to one: a folder
 * with no row, a row with no folder, a folder of a row without both DBs.
 */
export function parityProblems(dataDir: string): ParityProblem[] {
  const rows = centralSessions(dataDir);
  const folders = sessionFolders(dataDir);
  const byRow = new Set(rows.map((r) => `${r.agent_group_id}/${r.id}`));
  const byFolder = new Set(folders.map((f) => `${f.agentGroupId}/${f.sessionId}`));
  const problems: ParityProblem[] = [];
  for (const session of byFolder) {
    if (!byRow.has(session))
      problems.push({ kind: 'folder without row', session, text: `folder v2-sessions/${session} has no central row` });
  }
  for (const session of byRow) {
    if (!byFolder.has(session))
      problems.push({ kind: 'row without folder', session, text: `central row ${session} has no folder` });
  }
  for (const f of folders) {
    const session = `${f.agentGroupId}/${f.sessionId}`;
    if (!byRow.has(session)) continue;
    for (const file of ['inbound.db', 'outbound.db']) {
      if (!existsSync(join(f.dir, file)))
        problems.push({ kind: 'missing db', session, text: `v2-sessions/${session} has no ${file}` });
    }
  }
  return problems;
}
