/**
 * What the ingest crash harness checks in a data directory, with no runtime in between (every DB
 * opened read-only, test/helpers/disk-state.ts): the central DB and each session's two DBs pass
 * `PRAGMA integrity_check`; `messages_in` holds only planned messages, each exactly as planned,
 * with even, unique seqs; each expected (acknowledged) message is there once with its seq; every
 * attachment a row points at holds the planned bytes and a committed message's inbox folder holds
 * nothing else; sessions and folders match one to one. Problems come back grouped by property.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inboxDirName } from '../../src/files/message-id.js';
import { integrityOf, openForCheck, parityProblems } from '../helpers/disk-state.js';
import { plannedFiles, plannedId } from '../fixtures/crash/ingest-plan.js';

export type IngestProperty = 'acknowledged' | 'integrity' | 'seqs' | 'attachments' | 'parity';

export interface IngestSession {
  key: number;
  agentGroupId: string;
  sessionId: string;
}

export interface StoredRow {
  id: string;
  seq: number;
  content: string;
}

export interface SessionState {
  rows: Map<string, StoredRow>;
  maxSeq: number;
  /** Inbox folders with no committed row: crash leftovers of messages that never committed. */
  staleInbox: string[];
  /** Attachment problems of each stored message, by message id (also in `problems.attachments`). */
  attachmentProblems: Map<string, string[]>;
}

export interface IngestState {
  problems: Record<IngestProperty, string[]>;
  sessions: Map<number, SessionState>;
  /** DBs that held a hot journal and were checked through a rolled-back copy. */
  rolledBack: number;
}

/** The message number `n` of planned id `id` of `key`, or undefined when the id is not planned. */
export function plannedNumber(key: number, id: string): number | undefined {
  const m = /^k(\d+)-m(\d+)$/.exec(id) ?? /^spaces\/k(\d+)\/messages\/(\d+)$/.exec(id);
  if (m === null || Number(m[1]) !== key) return undefined;
  const n = Number(m[2]);
  return plannedId(key, n) === id ? n : undefined;
}

function checkAttachments(dir: string, key: number, row: StoredRow, n: number, problems: string[]): void {
  const where = row.id;
  const planned = plannedFiles(key, n);
  let content: { text?: unknown; attachments?: unknown };
  try {
    content = JSON.parse(row.content) as typeof content;
  } catch {
    problems.push(`${where}: stored content is not JSON`);
    return;
  }
  if (planned.length === 0) {
    if (content.attachments !== undefined) problems.push(`${where}: has attachments, none planned`);
    return;
  }
  const entries = content.attachments;
  if (!Array.isArray(entries) || entries.length !== planned.length) {
    problems.push(`${where}: ${JSON.stringify(entries)?.slice(0, 200)} is not ${planned.length} attachment entries`);
    return;
  }
  const folder = `inbox/${inboxDirName(row.id)}`;
  const referenced = new Set<string>();
  planned.forEach((file, j) => {
    const entry = entries[j] as Record<string, unknown>;
    if ('data' in entry) problems.push(`${where}[${j}]: data kept in the row`);
    if (entry.error !== undefined) problems.push(`${where}[${j}]: attachment not saved (${String(entry.error)})`);
    if (file.name !== undefined && entry.name !== file.name)
      problems.push(`${where}[${j}]: name ${String(entry.name)}, planned ${file.name}`);
    if (typeof entry.localPath !== 'string' || entry.localPath !== `${folder}/${String(entry.name)}`) {
      problems.push(`${where}[${j}]: localPath ${String(entry.localPath)} is not ${folder}/<name>`);
      return;
    }
    referenced.add(String(entry.name));
    const path = join(dir, entry.localPath);
    if (!existsSync(path)) problems.push(`${where}[${j}]: ${entry.localPath} is missing`);
    else if (!readFileSync(path).equals(file.bytes))
      problems.push(`${where}[${j}]: ${entry.localPath} has other bytes`);
  });
  const inFolder = existsSync(join(dir, folder)) ? readdirSync(join(dir, folder)) : [];
  for (const name of inFolder) {
    if (!referenced.has(name)) problems.push(`${where}: ${folder}/${name} is not referenced by its row`);
  }
}

/**
 * Inspects `dataDir` as left on disk. `expected` holds, per session key, the message ids whose
 * write was acknowledged, with the seq it was acknowledged with.
 */
export function inspectIngest(
  dataDir: string,
  scratch: string,
  sessions: IngestSession[],
  expected: Map<number, Map<string, number>>,
): IngestState {
  const problems: Record<IngestProperty, string[]> = {
    acknowledged: [],
    integrity: [],
    seqs: [],
    attachments: [],
    parity: [],
  };
  let rolledBack = 0;
  const open = (path: string) => {
    const checked = openForCheck(path, scratch);
    if (checked.rolledBack) rolledBack++;
    return checked.db;
  };
  /** Opens a DB for checking; a file that cannot be opened is an integrity problem. */
  const tryOpen = (path: string, label: string) => {
    try {
      return open(path);
    } catch (error) {
      problems.integrity.push(`${label} cannot be opened: ${String(error)}`);
      return undefined;
    }
  };
  const central = tryOpen(join(dataDir, 'v2.db'), 'v2.db');
  if (central !== undefined) {
    const centralIntegrity = integrityOf(central);
    central.close();
    if (centralIntegrity !== 'ok') problems.integrity.push(`v2.db: ${centralIntegrity}`);
  }
  problems.parity.push(...parityProblems(dataDir).map((p) => p.text));

  const states = new Map<number, SessionState>();
  for (const s of sessions) {
    const dir = join(dataDir, 'v2-sessions', s.agentGroupId, s.sessionId);
    const label = `session ${s.key} (${s.sessionId})`;
    const outbound = tryOpen(join(dir, 'outbound.db'), `${label} outbound.db`);
    if (outbound !== undefined) {
      const outIntegrity = integrityOf(outbound);
      outbound.close();
      if (outIntegrity !== 'ok') problems.integrity.push(`${label} outbound.db: ${outIntegrity}`);
    }
    const unchecked = () =>
      problems.acknowledged.push(`${label}: ${expected.get(s.key)?.size ?? 0} acknowledged messages cannot be checked`);
    const inbound = tryOpen(join(dir, 'inbound.db'), `${label} inbound.db`);
    if (inbound === undefined) {
      unchecked();
      continue;
    }
    let list: StoredRow[];
    try {
      const inIntegrity = integrityOf(inbound);
      if (inIntegrity !== 'ok') problems.integrity.push(`${label} inbound.db: ${inIntegrity}`);
      list = inbound.prepare('SELECT id, seq, content FROM messages_in ORDER BY seq').all() as StoredRow[];
    } catch (error) {
      problems.integrity.push(`${label} inbound.db cannot be read: ${String(error)}`);
      unchecked();
      continue;
    } finally {
      inbound.close();
    }

    const rows = new Map<string, StoredRow>();
    const attachmentProblems = new Map<string, string[]>();
    const seqs = new Set<number>();
    let maxSeq = 0;
    for (const row of list) {
      if (rows.has(row.id)) problems.acknowledged.push(`${label}: ${row.id} stored twice`);
      rows.set(row.id, row);
      if (!Number.isInteger(row.seq) || row.seq <= 0 || row.seq % 2 !== 0)
        problems.seqs.push(`${label}: ${row.id} has seq ${row.seq}, not a positive even number`);
      if (seqs.has(row.seq)) problems.seqs.push(`${label}: seq ${row.seq} used twice`);
      seqs.add(row.seq);
      maxSeq = Math.max(maxSeq, row.seq);
      const n = plannedNumber(s.key, row.id);
      if (n === undefined) {
        problems.seqs.push(`${label}: ${row.id} was never written`);
        continue;
      }
      const text = (JSON.parse(row.content) as { text?: unknown }).text;
      if (text !== `message ${n} of key ${s.key}`)
        problems.acknowledged.push(`${label}: ${row.id} has text ${String(text)}`);
      const found: string[] = [];
      checkAttachments(dir, s.key, row, n, found);
      attachmentProblems.set(row.id, found);
      problems.attachments.push(...found.map((p) => `${label}: ${p}`));
    }
    for (const [id, seq] of expected.get(s.key) ?? []) {
      const row = rows.get(id);
      if (row === undefined) problems.acknowledged.push(`${label}: acknowledged ${id} (seq ${seq}) is missing`);
      else if (row.seq !== seq)
        problems.acknowledged.push(`${label}: acknowledged ${id} with seq ${seq}, stored ${row.seq}`);
    }

    const committedFolders = new Set([...rows.keys()].map((id) => inboxDirName(id)));
    const inboxRoot = join(dir, 'inbox');
    const staleInbox = existsSync(inboxRoot)
      ? readdirSync(inboxRoot).filter((name) => !committedFolders.has(name))
      : [];
    for (const name of staleInbox) {
      if (!lstatSync(join(inboxRoot, name)).isDirectory())
        problems.attachments.push(`${label}: inbox/${name} is not a folder`);
    }
    states.set(s.key, { rows, maxSeq, staleInbox, attachmentProblems });
  }
  return { problems, sessions: states, rolledBack };
}
