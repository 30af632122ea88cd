/**
 * The operations a session mailbox carries, and the executor that commits a batch of them.
 *
 * Invariants (guarded by test/runtime/mailbox.test.ts):
 * 1. One batch = one open → BEGIN IMMEDIATE … COMMIT → close cycle of `inbound.db`; operations
 *    run in queue order, each inside its own savepoint (a batch of one needs none), so one failing
 *    operation is rolled back and rejected alone while the others commit ("a failed operation in the middle of a batch
 *    leaves the others committed").
 * 2. Files written for an operation (inbox attachments) are removed again when that operation or
 *    the whole commit fails: nothing is half-written.
 * 3. `outbound.db` is written only through `withOutboundWhileStopped`, with the container status
 *    the machine handed in as proof.
 */
import { statSync } from 'node:fs';
import type { CommitInput, MailboxOp, OpResult } from '../../machines/session.machine.js';
import { RuntimeError, toStorageError } from '../errors.js';
import { extractAttachments, removeInboxFiles, type WarnFn } from '../files/inbox.js';
import { clearOutbox, readOutboxFiles } from '../files/outbox.js';
import {
  deliveredIds,
  findMessageIn,
  insertMessageInIfNew,
  recordDelivery,
  replaceDestinations,
  writeRouting,
  type DeliveryRecord,
  type Destination,
  type Routing,
} from '../store/inbound.js';
import { nextOutboundSeq } from '../store/seq.js';
import { stmt } from '../store/statements.js';
import {
  immediateTransaction,
  readInbound,
  readOutbound,
  withInbound,
  withOutboundWhileStopped,
  type Db,
} from '../store/session-db.js';
import type { InboundMessage, MessageCounts, OutboundDirectMessage } from './types.js';
import { assertContentSize } from './content-size.js';

export interface OutboundRow {
  id: string;
  seq: number | null;
  in_reply_to: string | null;
  timestamp: string;
  deliver_after: string | null;
  kind: string;
  platform_id: string | null;
  channel_type: string | null;
  thread_id: string | null;
  content: string;
  /** `container` for rows the agent wrote, `host` for `writeOutboundDirect` rows. */
  origin: 'container' | 'host';
}

export interface PollResult {
  /** Due outbound rows (agent's and host's) with no delivery record yet. */
  undelivered: OutboundRow[];
  /** The container has claimed work it has not finished. */
  claimed: number;
  /** Pending inbound rows that are due and not yet claimed. */
  due: number;
  /** `.heartbeat` modification time in ms, or null when there is none. */
  heartbeatMtimeMs: number | null;
  /** What was read from outside (`outbound.db`, `.heartbeat`): the observation replay feeds back. */
  snapshot: OutboundSnapshot;
}

export interface Ack {
  message_id: string;
  status: string;
}

/** One read of the container's side: due `messages_out` rows, `processing_ack`, heartbeat. */
export interface OutboundSnapshot {
  rows: Omit<OutboundRow, 'origin'>[];
  acks: Ack[];
  heartbeatMtimeMs: number | null;
}

/**
 * Reads of the world outside the host's own files. Live, they read the session folder; during
 * replay they return what the log recorded for the same operation.
 */
export interface Outside {
  pollSnapshot(op: { requestId: string; nowIso: string }): OutboundSnapshot;
  sweepAcks(op: { requestId: string }, out: Db): Ack[];
  /** Operations whose whole result is an observation (files, counts of the container's rows). */
  observed(op: MailboxOp, compute: () => unknown): unknown;
}

export interface SweepResult {
  /** Claimed messages put back to `pending` for another try. */
  retried: string[];
  /** Claimed messages that ran out of tries. */
  failed: string[];
  /** The acks read from `outbound.db` (the observation replay feeds back). */
  acks: Ack[];
  /** Earliest `process_after` among retried messages, in epoch ms. */
  nextDueAtMs: number | null;
}

/** Retry policy for messages a dead container had claimed (FORMAT.md "Container side"). */
export interface RetryPolicy {
  maxTries: number;
  backoffMs: number;
}

export type SessionOp =
  | { kind: 'writeMessage'; message: InboundMessage; at: number }
  | { kind: 'writeRouting'; routing: Routing; destinations?: Destination[] }
  | { kind: 'recordDelivery'; record: DeliveryRecord }
  | { kind: 'pollOutbound' }
  | { kind: 'readOutbox'; messageId: string; filenames: string[] }
  | { kind: 'clearOutbox'; messageId: string }
  | { kind: 'writeOutboundDirect'; message: OutboundDirectMessage; timestamp: string }
  | { kind: 'sweep' }
  | { kind: 'counts' }
  | { kind: 'barrier' };

export interface BatchEnv {
  sessionDir: string;
  inboundDbPath: string;
  outboundDbPath: string;
  maxAttachmentBytes: number;
  maxMessageBytes: number;
  heartbeatPath: string;
  outside: Outside;
  /** False only for replay's scratch directory: commits skip the sync to disk. */
  durable?: boolean;
  /**
   * Replay only: a connection to the scratch `inbound.db` kept open between batches. No container
   * reads a replay directory, so the open → write → close rule has nobody to protect there.
   */
  scratchConnection?: Db;
  /** Per-activation memory: whether this process already migrated the session's inbound.db. */
  state: { migrated: boolean };
  retry: RetryPolicy;
  warn: WarnFn;
  /** Host-originated outbound rows kept in the central DB while a container ran. */
  directOutbound(): OutboundRow[];
  /** Records a direct outbound message in the central DB; false when the id was already there. */
  queueDirectOutbound(message: OutboundDirectMessage, timestamp: string): boolean;
}

/** What a batch left behind that must be undone if its COMMIT fails. */
interface Undo {
  files: { messageId: string; filenames: string[] }[];
}

/** Everything an operation's handler may use besides the DB: no clock, no id source. */
interface OpContext {
  env: BatchEnv;
  input: CommitInput;
  undo: Undo;
  mop: MailboxOp;
  /** The clock time of the batch (recorded with the batch, so replay reuses it). */
  at: number;
}

type Handler = (db: Db, op: SessionOp, ctx: OpContext) => unknown;

function writeMessage(db: Db, op: Extract<SessionOp, { kind: 'writeMessage' }>, env: BatchEnv, undo: Undo) {
  const { message } = op;
  // Content that cannot carry an attachments array is stored as it is (FORMAT.md); only content
  // that may carry files needs the duplicate check before anything is written to the inbox.
  const mayCarryFiles = message.content.includes('"attachments"');
  if (mayCarryFiles) {
    const existing = findMessageIn(db, message.id);
    if (existing !== undefined) return { seq: existing.seq, duplicate: true };
  }
  const extracted = mayCarryFiles
    ? extractAttachments({
        sessionDir: env.sessionDir,
        messageId: message.id,
        content: message.content,
        nowMs: op.at,
        maxAttachmentBytes: env.maxAttachmentBytes,
        warn: env.warn,
      })
    : { content: message.content, files: [] };
  if (extracted.files.length > 0) undo.files.push({ messageId: message.id, filenames: extracted.files });
  assertContentSize(message.id, extracted.content, env.maxMessageBytes);
  const seq = insertMessageInIfNew(db, {
    id: message.id,
    kind: message.kind,
    timestamp: message.timestamp,
    content: extracted.content,
    processAfter: message.processAfter ?? null,
    recurrence: message.recurrence ?? null,
    trigger: message.trigger ?? 1,
    platformId: message.platformId ?? null,
    channelType: message.channelType ?? null,
    threadId: message.threadId ?? null,
    sourceSessionId: message.sourceSessionId ?? null,
    onWake: message.onWake ?? 0,
  });
  if (seq === undefined) return { seq: (findMessageIn(db, message.id) as { seq: number }).seq, duplicate: true };
  return { seq, duplicate: false };
}

const OUTBOUND_COLUMNS =
  'id, seq, in_reply_to, timestamp, deliver_after, kind, platform_id, channel_type, thread_id, content';

/** The live reads behind `Outside`: the container's files, opened read-only for one read. */
export function readOutboundSnapshot(outboundDbPath: string, heartbeatPath: string, nowIso: string): OutboundSnapshot {
  const { rows, acks } = readOutbound(outboundDbPath, (out) => ({
    rows: stmt(
      out,
      `SELECT ${OUTBOUND_COLUMNS} FROM messages_out
       WHERE deliver_after IS NULL OR datetime(deliver_after) <= datetime(?) ORDER BY seq`,
    ).all(nowIso) as Omit<OutboundRow, 'origin'>[],
    acks: stmt(out, 'SELECT message_id, status FROM processing_ack ORDER BY message_id').all() as Ack[],
  }));
  return { rows, acks, heartbeatMtimeMs: heartbeatMtime(heartbeatPath) };
}

export function readSweepAcks(out: Db): Ack[] {
  return stmt(out, 'SELECT message_id, status FROM processing_ack ORDER BY message_id').all() as Ack[];
}

function pollOutbound(db: Db, op: MailboxOp, env: BatchEnv, at: number): PollResult {
  const nowIso = new Date(at).toISOString();
  const delivered = deliveredIds(db);
  const pendingIn = stmt(
    db,
    `SELECT id FROM messages_in WHERE status = 'pending'
       AND (process_after IS NULL OR datetime(process_after) <= datetime(?))`,
  ).all(nowIso) as { id: string }[];
  const snapshot = env.outside.pollSnapshot({ requestId: op.requestId, nowIso });
  syncFinishedAcks(db, snapshot.acks);
  const acked = new Set(snapshot.acks.map((a) => a.message_id));
  const undelivered: OutboundRow[] = [];
  for (const row of snapshot.rows) if (!delivered.has(row.id)) undelivered.push({ ...row, origin: 'container' });
  for (const row of env.directOutbound()) if (!delivered.has(row.id)) undelivered.push(row);
  return {
    undelivered,
    claimed: snapshot.acks.filter((a) => a.status === 'processing').length,
    due: pendingIn.filter((r) => !acked.has(r.id)).length,
    heartbeatMtimeMs: snapshot.heartbeatMtimeMs,
    snapshot,
  };
}

function heartbeatMtime(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Copies the container's `completed`/`failed` acks into `messages_in.status`. */
function syncFinishedAcks(db: Db, acks: readonly Ack[]): void {
  const update = stmt(db, "UPDATE messages_in SET status = ? WHERE id = ? AND status = 'pending'");
  for (const ack of acks) {
    if (ack.status === 'completed' || ack.status === 'failed') update.run(ack.status, ack.message_id);
  }
}

/**
 * After a container is gone: syncs finished acks, puts messages it had claimed back to `pending`
 * with `tries + 1` and a backoff of `backoffMs × 2^tries` (or `failed` once `maxTries` is
 * reached), and removes those orphan `processing` claims from `outbound.db` — a host write,
 * allowed only while the container is stopped.
 */
function sweep(db: Db, op: MailboxOp, env: BatchEnv, input: CommitInput, at: number): SweepResult {
  return withOutboundWhileStopped(env.outboundDbPath, input.containerStatus, (out) => {
    const acks = env.outside.sweepAcks({ requestId: op.requestId }, out);
    syncFinishedAcks(db, acks);
    const result: SweepResult = { retried: [], failed: [], nextDueAtMs: null, acks };
    const find = stmt(db, "SELECT tries FROM messages_in WHERE id = ? AND status = 'pending'");
    const retry = stmt(db, 'UPDATE messages_in SET tries = ?, process_after = ? WHERE id = ?');
    const fail = stmt(db, "UPDATE messages_in SET tries = ?, status = 'failed' WHERE id = ?");
    const unclaim = stmt(out, "DELETE FROM processing_ack WHERE message_id = ? AND status = 'processing'");
    for (const ack of acks) {
      if (ack.status !== 'processing') continue;
      unclaim.run(ack.message_id);
      const row = find.get(ack.message_id) as { tries: number | null } | undefined;
      if (row === undefined) continue;
      const tries = (row.tries ?? 0) + 1;
      if (tries >= env.retry.maxTries) {
        fail.run(tries, ack.message_id);
        result.failed.push(ack.message_id);
        continue;
      }
      const dueAt = at + env.retry.backoffMs * 2 ** (tries - 1);
      retry.run(tries, new Date(dueAt).toISOString(), ack.message_id);
      result.retried.push(ack.message_id);
      result.nextDueAtMs = result.nextDueAtMs === null ? dueAt : Math.min(result.nextDueAtMs, dueAt);
    }
    return result;
  });
}

/**
 * A host-originated outbound message. With the container stopped it becomes a `messages_out` row
 * with the next odd seq over both tables (the agent sees it on its next start); otherwise
 * `outbound.db` belongs to the container, so it is kept in the central DB until delivered.
 */
function writeOutboundDirect(
  db: Db,
  op: Extract<SessionOp, { kind: 'writeOutboundDirect' }>,
  env: BatchEnv,
  input: CommitInput,
) {
  const { message } = op;
  if (input.containerStatus !== 'stopped') {
    env.queueDirectOutbound(message, op.timestamp);
    return { stored: 'central' };
  }
  withOutboundWhileStopped(env.outboundDbPath, input.containerStatus, (out) => {
    if (out.prepare('SELECT 1 FROM messages_out WHERE id = ?').get(message.id) !== undefined) return;
    out
      .prepare(
        `INSERT INTO messages_out (id, seq, in_reply_to, timestamp, deliver_after, recurrence, kind, platform_id, channel_type, thread_id, content)
         VALUES (?, ?, NULL, ?, NULL, NULL, ?, ?, ?, ?, ?)`,
      )
      .run(
        message.id,
        nextOutboundSeq(db, out),
        op.timestamp,
        message.kind,
        message.platformId,
        message.channelType,
        message.threadId,
        message.content,
      );
  });
  return { stored: 'outbound' };
}

export type { MessageCounts } from './types.js';

const count = (d: Db, sql: string) => (stmt(d, sql).get() as { n: number }).n;

function messageCounts(db: Db, outboundDbPath: string): MessageCounts {
  return {
    messagesIn: count(db, 'SELECT COUNT(*) AS n FROM messages_in'),
    messagesOut: readOutbound(outboundDbPath, (out) => count(out, 'SELECT COUNT(*) AS n FROM messages_out')),
    delivered: count(db, "SELECT COUNT(*) AS n FROM delivered WHERE status = 'delivered'"),
    failed: count(db, "SELECT COUNT(*) AS n FROM delivered WHERE status = 'failed'"),
  };
}

/** Row counts of a session's two DBs, both opened read-only (an observer's way; no write lock). */
export function countMessages(inboundDbPath: string, outboundDbPath: string): MessageCounts {
  return readInbound(inboundDbPath, (db) => messageCounts(db, outboundDbPath));
}

type OpOf<K extends SessionOp['kind']> = Extract<SessionOp, { kind: K }>;

const handlers: Record<SessionOp['kind'], Handler> = {
  writeMessage: (db, op, { env, undo }) => writeMessage(db, op as OpOf<'writeMessage'>, env, undo),
  writeRouting: (db, op) => {
    const o = op as OpOf<'writeRouting'>;
    writeRouting(db, o.routing);
    if (o.destinations !== undefined) replaceDestinations(db, o.destinations);
    return undefined;
  },
  recordDelivery: (db, op) => recordDelivery(db, (op as OpOf<'recordDelivery'>).record),
  pollOutbound: (db, _op, { mop, env, at }) => pollOutbound(db, mop, env, at),
  readOutbox: (_db, op, { env, mop }) => {
    const o = op as OpOf<'readOutbox'>;
    return env.outside.observed(mop, () => readOutboxFiles(env.sessionDir, o.messageId, o.filenames, env.warn));
  },
  clearOutbox: (_db, op, { env, mop }) =>
    env.outside.observed(mop, () => clearOutbox(env.sessionDir, (op as OpOf<'clearOutbox'>).messageId, env.warn)),
  writeOutboundDirect: (db, op, { env, input }) =>
    writeOutboundDirect(db, op as OpOf<'writeOutboundDirect'>, env, input),
  sweep: (db, _op, { mop, env, input, at }) => sweep(db, mop, env, input, at),
  counts: (db, _op, { env, mop }) => env.outside.observed(mop, () => messageCounts(db, env.outboundDbPath)),
  barrier: () => undefined,
};

function failure(op: MailboxOp, error: unknown, what: string): OpResult {
  return { requestId: op.requestId, kind: op.kind, ok: false, error: toStorageError(error, what) };
}

function undoFiles(env: BatchEnv, files: Undo['files']): void {
  for (const f of files) removeInboxFiles(env.sessionDir, f.messageId, f.filenames, env.warn);
}

/**
 * Commits one batch. Never throws: every failure becomes a per-operation `RuntimeError` result
 * (a failed COMMIT or open rejects every operation of the batch with `STORAGE`).
 */
export function executeBatch(env: BatchEnv, input: CommitInput, at: number): OpResult[] {
  const runOp = (db: Db, op: MailboxOp, undo: Undo): unknown => {
    const handler = handlers[op.kind as SessionOp['kind']];
    if (handler === undefined) throw new RuntimeError('INVALID_INPUT', `unknown mailbox operation ${op.kind}`);
    return handler(db, op.payload as SessionOp, { env, input, undo, mop: op, at });
  };
  const inTransaction = <T>(run: (db: Db) => T): T => {
    const open = env.scratchConnection;
    const result =
      open !== undefined
        ? immediateTransaction(open, run)
        : withInbound(env.inboundDbPath, run, { migrate: !env.state.migrated, durable: env.durable !== false });
    env.state.migrated = true;
    return result;
  };
  const [only] = input.ops;
  if (input.ops.length === 1 && only !== undefined) {
    // A batch of one needs no savepoint: its failure rolls the whole transaction back.
    const undo: Undo = { files: [] };
    try {
      const value = inTransaction((db) => runOp(db, only, undo));
      return [{ requestId: only.requestId, kind: only.kind, ok: true, value }];
    } catch (error) {
      undoFiles(env, undo.files);
      return [failure(only, error, `${only.kind} failed`)];
    }
  }
  const batchUndo: Undo = { files: [] };
  try {
    return inTransaction((db) =>
      input.ops.map((op): OpResult => {
        const opUndo: Undo = { files: [] };
        stmt(db, 'SAVEPOINT op').run();
        try {
          const value = runOp(db, op, opUndo);
          stmt(db, 'RELEASE op').run();
          batchUndo.files.push(...opUndo.files);
          return { requestId: op.requestId, kind: op.kind, ok: true, value };
        } catch (error) {
          stmt(db, 'ROLLBACK TO op').run();
          stmt(db, 'RELEASE op').run();
          undoFiles(env, opUndo.files);
          return failure(op, error, `${op.kind} failed`);
        }
      }),
    );
  } catch (error) {
    undoFiles(env, batchUndo.files);
    return input.ops.map((op) => failure(op, error, 'commit failed'));
  }
}
