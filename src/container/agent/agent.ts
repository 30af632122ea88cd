/**
 * The reference container agent: the program that runs "inside the container" of a session.
 * It is the default container of the process driver and the template to copy when writing your
 * own (docs/agent.md), so it depends on nothing from the host runtime: it knows only the session
 * folder (FORMAT.md "Container side, in short") and carries its own few lines of SQL.
 *
 * What it does, once per poll: read the pending, due, unclaimed rows of `messages_in` and the
 * session's `destinations`; pick a batch (`pickDueBatch`); claim it in `processing_ack`; run the
 * turn (echo the text, follow the scripted behaviours below); write the replies to `messages_out`,
 * each addressed where its message came from (./addressing.ts), and the outcome to
 * `processing_ack`; touch `.heartbeat`. Between polls it waits `pollMs`, or less when a watch on
 * the session folder sees `inbound.db` change (./inbound-watch.ts). It exits 0 after
 * `idleExitMs` without work, or promptly when aborted.
 *
 * Invariants (guards are in test/container/agent.test.ts and test/container/agent-batch.test.ts):
 * 1. `inbound.db` is opened read-only, read and closed within one synchronous step; `outbound.db`
 *    is opened with journal_mode=DELETE for one short transaction and closed. No DB is open
 *    across an await ("never holds inbound.db or outbound.db open while waiting").
 * 2. A reply's seq is the smallest odd number above max(seq) over `messages_in` and
 *    `messages_out`, both read right before the reply is written ("answers with odd seqs above
 *    every seq …", "takes the next odd seq above messages_out …").
 * 3. Claim first, outcome last: rows are marked `processing` before the turn; the replies and the
 *    `completed`/`failed` marks go in ONE transaction, so a crash mid-turn leaves `processing`
 *    and no reply ("SIGKILL during a turn …").
 * 4. `trigger=0` rows are never claimed alone; `on_wake=1` rows only on the first poll; rows
 *    already in `processing_ack` are never picked again (agent-batch.test.ts, pickDueBatch).
 * 5. Each reply is addressed, and its thread looked up, in the same read of `inbound.db` that
 *    gives the seq of invariant 2 (agent-addressing.test.ts).
 *
 * Scripted behaviours, read from an inbound row's JSON content (so tests can drive the agent),
 * applied in this order:
 *   text: string                     echoed back as `{"text":"echo: <text>"}`
 *   sleepMs: number                  the turn takes this long after the claim (no heartbeat meanwhile)
 *   tool: { name, timeoutMs, sleepMs }  a long tool: `container_state` holds `name`, `timeoutMs`
 *                                    (as tool_declared_timeout_ms) and the start time for
 *                                    `sleepMs` (no heartbeat meanwhile), then is cleared
 *                                    (./tool-state.ts, agent-tool.test.ts)
 *   fail: true                       the row is marked `failed` and gets no reply
 *   replyFile: { name, text }        written to `outbox/<replyId>/<name>` and listed in `files`
 *   attachments: [{ name?, localPath }]  each file (localPath relative to the session folder) is
 *                                    copied to `outbox/<replyId>/<name>` and listed in `files`
 * Content that is not JSON is echoed as it is.
 *
 * Reply ids are `<inboundId>-r<n>`, n = 1, 2, … the first id not yet in `messages_out` (stable
 * across a crash-and-retry); when that would not be a safe path segment (over 128 characters)
 * the id is `reply-<16 random hex chars>`.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, lstatSync, mkdirSync, openSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import {
  newestThread,
  originName,
  readDestinations,
  replyAddress,
  type Address,
  type DestinationRow,
} from './addressing.js';
import { watchInbound, type WatchDir } from './inbound-watch.js';
import { clearToolInFlight, setToolInFlight } from './tool-state.js';

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

export interface AgentConfig {
  /** The session folder; everything the agent touches lives in it. */
  sessionDir: string;
  inboundDb: string;
  outboundDb: string;
  heartbeatPath: string;
  /** Pause between polls. */
  pollMs: number;
  /** Exit after this long without work; 0 disables the idle exit. */
  idleExitMs: number;
  /** Informational (log lines only). */
  sessionId: string | null;
  agentGroupId: string | null;
}

export const DEFAULT_POLL_MS = 200;
export const DEFAULT_IDLE_EXIT_MS = 30_000;

function numberFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return value;
}

/**
 * Reads the environment contract: SESSION_DIR (required), INBOUND_DB, OUTBOUND_DB and
 * HEARTBEAT_PATH (default to files in SESSION_DIR), AGENT_POLL_MS, AGENT_IDLE_EXIT_MS,
 * SESSION_ID and AGENT_GROUP_ID (informational). Throws on a missing or malformed value.
 */
export function configFromEnv(env: NodeJS.ProcessEnv): AgentConfig {
  const dir = env.SESSION_DIR;
  if (dir === undefined || dir === '') throw new Error('SESSION_DIR is required');
  const sessionDir = resolve(dir);
  const pathFromEnv = (name: string, file: string): string => {
    const value = env[name];
    return value === undefined || value === '' ? join(sessionDir, file) : resolve(value);
  };
  return {
    sessionDir,
    inboundDb: pathFromEnv('INBOUND_DB', 'inbound.db'),
    outboundDb: pathFromEnv('OUTBOUND_DB', 'outbound.db'),
    heartbeatPath: pathFromEnv('HEARTBEAT_PATH', '.heartbeat'),
    pollMs: Math.max(1, numberFromEnv(env, 'AGENT_POLL_MS', DEFAULT_POLL_MS)),
    idleExitMs: numberFromEnv(env, 'AGENT_IDLE_EXIT_MS', DEFAULT_IDLE_EXIT_MS),
    sessionId: env.SESSION_ID || null,
    agentGroupId: env.AGENT_GROUP_ID || null,
  };
}

// ---------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------

/** The columns of a `messages_in` row that batching looks at. `due` is computed by SQLite. */
export interface CandidateRow {
  id: string;
  seq: number;
  status: string;
  /** 1 when `process_after` is NULL or `datetime(process_after) <= datetime('now')`. */
  due: number;
  trigger: number;
  on_wake: number;
}

/**
 * The rows to claim this poll, in seq order: pending, due, not in `processing_ack` (`acked`),
 * and `on_wake=1` only when `firstPoll`. `trigger=0` rows are context: they ride along with a
 * batch that has at least one `trigger=1` row and are never returned alone (empty result).
 */
export function pickDueBatch<T extends CandidateRow>(
  rows: readonly T[],
  acked: ReadonlySet<string>,
  firstPoll: boolean,
): T[] {
  const eligible = rows
    .filter((r) => r.status === 'pending' && r.due === 1 && !acked.has(r.id) && (r.on_wake === 0 || firstPoll))
    .sort((a, b) => a.seq - b.seq);
  return eligible.some((r) => r.trigger === 1) ? eligible : [];
}

/** Smallest odd number above `max` (1 for empty tables). */
export function nextOddAbove(max: number): number {
  return max % 2 === 0 ? max + 1 : max + 2;
}

/** FORMAT.md's segment rule: non-empty, not `.`/`..`, no `/`, `\` or NUL, ≤ 128 characters. */
export function isSafeSegment(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= 128 &&
    value !== '.' &&
    value !== '..' &&
    !/[/\\\0]/.test(value) &&
    basename(value) === value
  );
}

/** `<inboundId>-r<n>` with the first n not in `taken`, or a random id when that is unsafe. */
export function replyIdFor(inboundId: string, taken: (id: string) => boolean): string {
  for (let n = 1; ; n++) {
    const id = `${inboundId}-r${n}`;
    if (!isSafeSegment(id)) return `reply-${randomBytes(8).toString('hex')}`;
    if (!taken(id)) return id;
  }
}

/** A scripted long tool: its name, the timeout it declares, and how long it really runs. */
export interface ScriptedTool {
  name: string;
  timeoutMs: number;
  sleepMs: number;
}

export interface Script {
  text: string;
  sleepMs: number;
  tool: ScriptedTool | null;
  fail: boolean;
  replyFile: { name: string; text: string } | null;
  attachments: { name: string; localPath: string }[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads the scripted behaviours (see the header) out of a row's content. */
export function parseScript(content: string): Script {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    // Not JSON: plain text, echoed as it is.
    parsed = content;
  }
  if (!isRecord(parsed)) {
    const text = typeof parsed === 'string' ? parsed : '';
    return { text, sleepMs: 0, tool: null, fail: false, replyFile: null, attachments: [] };
  }
  const { replyFile, tool } = parsed;
  const attachments = Array.isArray(parsed.attachments) ? parsed.attachments : [];
  return {
    text: typeof parsed.text === 'string' ? parsed.text : '',
    sleepMs: typeof parsed.sleepMs === 'number' && parsed.sleepMs > 0 ? parsed.sleepMs : 0,
    tool:
      isRecord(tool) &&
      typeof tool.name === 'string' &&
      tool.name !== '' &&
      Number.isSafeInteger(tool.timeoutMs) &&
      (tool.timeoutMs as number) >= 0 &&
      typeof tool.sleepMs === 'number' &&
      Number.isFinite(tool.sleepMs) &&
      tool.sleepMs >= 0
        ? { name: tool.name, timeoutMs: tool.timeoutMs as number, sleepMs: tool.sleepMs }
        : null,
    fail: parsed.fail === true,
    replyFile:
      isRecord(replyFile) && typeof replyFile.name === 'string' && typeof replyFile.text === 'string'
        ? { name: replyFile.name, text: replyFile.text }
        : null,
    attachments: attachments.flatMap((a: unknown) =>
      isRecord(a) && typeof a.localPath === 'string'
        ? [{ name: typeof a.name === 'string' ? a.name : basename(a.localPath), localPath: a.localPath }]
        : [],
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// The session folder: every function opens, works and closes before it returns (invariant 1)
// ---------------------------------------------------------------------------------------------

type Db = Database.Database;

interface InboundRow extends CandidateRow {
  kind: string;
  platform_id: string | null;
  channel_type: string | null;
  thread_id: string | null;
  content: string;
}

interface InboundSnapshot {
  pending: InboundRow[];
  destinations: DestinationRow[];
}

const BUSY_TIMEOUT_MS = 2000;

function withReadOnly<T>(path: string, fn: (db: Db) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return fn(db);
  } finally {
    db.close();
  }
}

/** The agent's only write path: one open → BEGIN IMMEDIATE … COMMIT → close on `outbound.db`. */
function withOutbound<T>(path: string, fn: (db: Db) => T): T {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = DELETE'); // never WAL: the -shm file does not cross a mount
    return db.transaction(fn).immediate(db);
  } finally {
    db.close();
  }
}

function readInboundSnapshot(path: string): InboundSnapshot {
  return withReadOnly(path, (db) => ({
    pending: db
      .prepare(
        `SELECT id, seq, kind, status, trigger, on_wake, platform_id, channel_type, thread_id, content,
           CASE WHEN process_after IS NULL OR datetime(process_after) <= datetime('now') THEN 1 ELSE 0 END AS due
         FROM messages_in WHERE status = 'pending' ORDER BY seq`,
      )
      .all() as InboundRow[],
    destinations: readDestinations(db),
  }));
}

/**
 * What writing replies needs from `inbound.db`, read in one open: the highest seq (invariant 2)
 * and the address of the reply to each row (invariant 5).
 */
function readReplyContext(path: string, rows: readonly Address[]): { maxSeq: number; addresses: Address[] } {
  return withReadOnly(path, (db) => {
    const routing = db
      .prepare('SELECT channel_type, platform_id, thread_id FROM session_routing WHERE id = 1')
      .get() as Address | undefined;
    const threadOf = (channelType: string, platformId: string) => newestThread(db, channelType, platformId);
    return {
      maxSeq: (db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM messages_in').get() as { m: number }).m,
      addresses: rows.map((row) => replyAddress(row, threadOf, routing)),
    };
  });
}

function readAcked(path: string): Set<string> {
  return withReadOnly(path, (db) => {
    const rows = db.prepare('SELECT message_id FROM processing_ack').all() as { message_id: string }[];
    return new Set(rows.map((r) => r.message_id));
  });
}

function setAck(db: Db, messageId: string, status: 'processing' | 'completed' | 'failed'): void {
  db.prepare(
    `INSERT INTO processing_ack (message_id, status, status_changed) VALUES (?, ?, ?)
     ON CONFLICT(message_id) DO UPDATE SET status = excluded.status, status_changed = excluded.status_changed`,
  ).run(messageId, status, new Date().toISOString());
}

/** Creates the heartbeat file if needed and sets its mtime to now: the host's liveness signal. */
function touchHeartbeat(path: string): void {
  closeSync(openSync(path, 'a'));
  const now = new Date();
  utimesSync(path, now, now);
}

// ---------------------------------------------------------------------------------------------
// The loop
// ---------------------------------------------------------------------------------------------

export type AgentExit = 'idle' | 'stopped';

export interface AgentOptions {
  log?: (line: string) => void;
  /** Aborting stops the agent promptly: nothing in flight is finished, claims stay `processing`. */
  signal?: AbortSignal;
  /** How to watch the session folder for `inbound.db` changes (default `fs.watch`). */
  watch?: WatchDir;
}

/** Waits `ms`; resolves false at once when `signal` aborts (true when the time ran out). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((done) => {
    if (signal?.aborted) return done(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      done(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      done(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface Reply {
  id: string;
  /** The row answered: its id is `in_reply_to`, its address decides the reply's. */
  row: InboundRow;
  content: string;
}

/** Runs the agent until it has been idle for `idleExitMs` or `signal` aborts. */
export async function runAgent(config: AgentConfig, options: AgentOptions = {}): Promise<AgentExit> {
  const log = options.log ?? (() => undefined);
  const { signal } = options;
  let firstPoll = true;
  let lastWork = Date.now();
  log(`agent up: session ${config.sessionId ?? '?'} in ${config.sessionDir}, poll ${config.pollMs} ms`);
  try {
    // A fresh container runs no tool: one left set by a container that died mid-tool goes.
    if (withOutbound(config.outboundDb, (db) => clearToolInFlight(db, new Date().toISOString())))
      log('cleared a tool left in flight by an earlier container');
  } catch (error) {
    log(`cannot clear container_state: ${errorText(error)}`);
  }
  // Started before the first poll, so no change after that poll's read goes unnoticed.
  const inbound = watchInbound(config.inboundDb, log, options.watch);
  try {
    while (!signal?.aborted) {
      let worked = false;
      try {
        // Read everything this poll needs; each read opens and closes its file.
        const snapshot = readInboundSnapshot(config.inboundDb);
        const acked = readAcked(config.outboundDb);
        touchHeartbeat(config.heartbeatPath);
        const batch = pickDueBatch(snapshot.pending, acked, firstPoll);
        firstPoll = false;
        if (batch.length > 0) {
          worked = true;
          const finished = await runTurn(config, batch, snapshot.destinations, log, signal);
          if (!finished) break;
          lastWork = Date.now();
        }
      } catch (error) {
        // A failed poll (file missing, DB busy, disk full) is logged and retried on the next poll;
        // rows claimed before the failure stay `processing` for the host to clear.
        log(`poll failed: ${errorText(error)}`);
      }
      if (!worked && config.idleExitMs > 0 && Date.now() - lastWork >= config.idleExitMs) {
        log(`idle for ${config.idleExitMs} ms, exiting`);
        return 'idle';
      }
      if (!(await inbound.sleep(config.pollMs, signal))) break;
    }
  } finally {
    inbound.close();
  }
  log('stopped');
  return 'stopped';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs a scripted long tool: `container_state` names it for `tool.sleepMs` (no heartbeat
 * meanwhile), then is cleared. Returns false when aborted; the state then stays set, and the
 * next container clears it when it starts.
 */
async function runTool(
  config: AgentConfig,
  tool: ScriptedTool,
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  withOutbound(config.outboundDb, (db) => setToolInFlight(db, tool.name, tool.timeoutMs, new Date().toISOString()));
  log(`tool ${tool.name} running (declared timeout ${tool.timeoutMs} ms)`);
  if (!(await sleep(tool.sleepMs, signal))) return false;
  withOutbound(config.outboundDb, (db) => clearToolInFlight(db, new Date().toISOString()));
  log(`tool ${tool.name} done`);
  return true;
}

/**
 * One turn over a claimed batch. Returns false when aborted mid-turn (nothing more is written).
 * Context rows (`trigger=0`) get no reply of their own and are completed with the batch.
 */
async function runTurn(
  config: AgentConfig,
  batch: readonly InboundRow[],
  destinations: readonly DestinationRow[],
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  // 1. Claim the whole batch, and pick the reply ids while the file is open.
  const replyIds = withOutbound(config.outboundDb, (db) => {
    const exists = db.prepare('SELECT 1 FROM messages_out WHERE id = ?');
    const taken = (id: string): boolean => exists.get(id) !== undefined;
    const ids = new Map<string, string>();
    for (const row of batch) {
      setAck(db, row.id, 'processing');
      if (row.trigger === 1) ids.set(row.id, replyIdFor(row.id, taken));
    }
    return ids;
  });
  // Each message is seen with the destination it came from.
  const seen = batch.map((r) => {
    const from = originName(r, destinations);
    return from === null ? r.id : `${r.id} (from ${from})`;
  });
  log(`claimed ${seen.join(', ')}`);

  // 2. The turn itself: no DB is open here.
  const replies: Reply[] = [];
  const failed = new Set<string>();
  for (const row of batch) {
    const replyId = replyIds.get(row.id);
    if (replyId === undefined) continue; // context row
    const script = parseScript(row.content);
    if (script.sleepMs > 0 && !(await sleep(script.sleepMs, signal))) return false;
    if (script.tool !== null && !(await runTool(config, script.tool, log, signal))) return false;
    if (script.fail) {
      failed.add(row.id);
      continue;
    }
    try {
      const files = writeOutboxFiles(config.sessionDir, replyId, script, log);
      const content: { text: string; files?: string[] } = { text: `echo: ${script.text}` };
      if (files.length > 0) content.files = files;
      replies.push({ id: replyId, row, content: JSON.stringify(content) });
    } catch (error) {
      log(`turn for ${row.id} failed: ${errorText(error)}`);
      failed.add(row.id);
    }
  }
  if (signal?.aborted) return false;

  // 3. Replies and outcomes in one transaction (invariant 3), seq over both tables (invariant 2),
  //    each reply where its message came from (invariant 5).
  const context = readReplyContext(
    config.inboundDb,
    replies.map((r) => r.row),
  );
  withOutbound(config.outboundDb, (db) => {
    const outboundMax = (db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM messages_out').get() as { m: number }).m;
    let seq = nextOddAbove(Math.max(context.maxSeq, outboundMax));
    const insert = db.prepare(
      `INSERT INTO messages_out (id, seq, in_reply_to, timestamp, deliver_after, recurrence, kind,
         platform_id, channel_type, thread_id, content)
       VALUES (@id, @seq, @inReplyTo, @timestamp, NULL, NULL, 'chat',
         @platform_id, @channel_type, @thread_id, @content)`,
    );
    replies.forEach(({ id, row, content }, i) => {
      const { channel_type, platform_id, thread_id } = context.addresses[i] as Address;
      const timestamp = new Date().toISOString();
      insert.run({ id, seq, inReplyTo: row.id, timestamp, channel_type, platform_id, thread_id, content });
      seq += 2;
    });
    for (const row of batch) setAck(db, row.id, failed.has(row.id) ? 'failed' : 'completed');
  });
  log(`answered ${replies.map((r) => r.row.id).join(', ') || '-'}; failed ${[...failed].join(', ') || '-'}`);
  return true;
}

/**
 * Writes the reply's files into `outbox/<replyId>/` (before the row exists, so the host never sees
 * a row whose files are missing) and returns their names. A bad `replyFile` name fails the turn;
 * an attachment that is missing, outside the session folder or not a regular file is skipped.
 */
function writeOutboxFiles(sessionDir: string, replyId: string, script: Script, log: (line: string) => void): string[] {
  const dir = join(sessionDir, 'outbox', replyId);
  const names: string[] = [];
  const ensureDir = (): void => void mkdirSync(dir, { recursive: true });

  if (script.replyFile !== null) {
    const { name, text } = script.replyFile;
    if (!isSafeSegment(name)) throw new Error(`replyFile name ${JSON.stringify(name)} is not a safe file name`);
    ensureDir();
    writeFileSync(join(dir, name), text);
    names.push(name);
  }

  for (const attachment of script.attachments) {
    const source = resolve(sessionDir, attachment.localPath);
    const inside = relative(sessionDir, source);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
      log(`attachment ${attachment.localPath} is outside the session folder, skipped`);
      continue;
    }
    if (!isSafeSegment(attachment.name) || names.includes(attachment.name)) {
      log(`attachment name ${JSON.stringify(attachment.name)} is unsafe or taken, skipped`);
      continue;
    }
    let isFile = false;
    try {
      isFile = lstatSync(source).isFile();
    } catch (error) {
      // Missing attachment: skipped below, like any other unusable one.
      log(`attachment ${attachment.localPath}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!isFile) {
      log(`attachment ${attachment.localPath} is not a regular file, skipped`);
      continue;
    }
    ensureDir();
    // Overwrites a leftover from an interrupted earlier attempt at this same reply id.
    copyFileSync(source, join(dir, attachment.name));
    names.push(attachment.name);
  }
  return names;
}
