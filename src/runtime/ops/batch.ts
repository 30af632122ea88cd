/**
 * `executeBatch`: commits one batch of a session's mailbox operations. The same code runs on the
 * commit threads (live) and in replay (with the container's side taken from the log).
 *
 * Invariants (guarded by test/runtime/mailbox.test.ts and test/runtime/session-ops.test.ts):
 * 1. One batch = one open → BEGIN IMMEDIATE … COMMIT → close cycle of `inbound.db`; operations
 *    run in queue order, each inside its own savepoint (a batch of one needs none), so one failing
 *    operation is rolled back and rejected alone while the others commit.
 * 2. Files written for an operation (inbox attachments) are removed again when that operation or
 *    the whole commit fails: nothing is half-written.
 * 3. Never throws: every failure is a per-operation `RuntimeError` result (a failed open or COMMIT
 *    rejects every operation of the batch with `STORAGE`).
 * 4. A batch of barriers alone opens nothing (close() sends one to every live session).
 */
import type { CommitInput, MailboxOp, OpResult } from '../../../machines/session.machine.js';
import { RuntimeError, toStorageError } from '../../errors.js';
import { violation } from '../../files/container-violation.js';
import { removeInboxFiles } from '../../files/inbox.js';
import { isMessageId } from '../../files/message-id.js';
import { clearOutbox, readOutbox, readOutboxFiles } from '../../files/outbox.js';
import { isSafeSegment } from '../../files/segment.js';
import { forgetAssignedSeq, recordDelivery, replaceDestinations, writeRouting } from '../../store/inbound.js';
import { immediateTransaction, readInbound, readOutbound, withInbound, type Db } from '../../store/session-db.js';
import { stmt } from '../../store/statements.js';
import type { MessageCounts } from '../types.js';
import { writeOutboundDirect } from './outbound-direct.js';
import { pollOutbound } from './poll.js';
import { sweep } from './sweep.js';
import type { BatchEnv, OpContext, SessionOp, Undo } from './types.js';
import { writeMessage } from './write-message.js';

type Handler = (db: Db, op: SessionOp, ctx: OpContext) => unknown;
type OpOf<K extends SessionOp['kind']> = Extract<SessionOp, { kind: K }>;

const count = (d: Db, sql: string) => (stmt(d, sql).get() as { n: number }).n;

function messageCounts(db: Db, outboundDbPath: string): MessageCounts {
  return {
    messagesIn: count(db, 'SELECT COUNT(*) AS n FROM messages_in'),
    messagesOut: readOutbound(outboundDbPath, (out) => count(out, 'SELECT COUNT(*) AS n FROM messages_out')),
    delivered: count(db, "SELECT COUNT(*) AS n FROM delivered WHERE status = 'delivered'"),
    failed: count(db, "SELECT COUNT(*) AS n FROM delivered WHERE status = 'failed'"),
  };
}

/**
 * Row counts of a session's two DBs, both opened read-only (an observer's way; no write lock). A
 * link planted at a side file refuses the read rather than being removed: an observer changes
 * nothing.
 */
export function countMessages(inboundDbPath: string, outboundDbPath: string): MessageCounts {
  return readInbound(inboundDbPath, (db) => messageCounts(db, outboundDbPath), { sideFiles: 'refuse' });
}

/** The outbox of an outbound row the container wrote: an id that is no folder name is a refusal. */
function readOutboxChecked(env: BatchEnv, op: OpOf<'readOutboxChecked'>) {
  if (!isSafeSegment(op.messageId)) {
    const id: unknown = op.messageId;
    const shown = isMessageId(id) ? JSON.stringify(id.slice(0, 60)) : 'unusable';
    return {
      files: undefined,
      refused: [
        {
          filename: null,
          violation: violation(
            'unsafe-name',
            `${env.sessionDir}/outbox`,
            `outbound id ${shown} names no outbox folder`,
          ),
        },
      ],
    };
  }
  const read = readOutbox(env.sessionDir, op.messageId, op.filenames, env.warn, env.maxAttachmentBytes);
  if (read.files === undefined && read.refused.length === 0 && op.filenames.length > 0) {
    // Declared files with no folder to hold them: delivered without them, and said so.
    const names = op.filenames.slice(0, 5).map((f) => JSON.stringify(f.slice(0, 60)));
    read.refused.push({
      filename: null,
      violation: violation(
        'missing',
        `${env.sessionDir}/outbox/${op.messageId}`,
        `outbox/${op.messageId} is missing: declared files ${names.join(', ')} not delivered`,
      ),
    });
  }
  return read;
}

const handlers: Record<SessionOp['kind'], Handler> = {
  writeMessage: (db, op, { env, undo }) => writeMessage(db, op as OpOf<'writeMessage'>, env, undo),
  writeRouting: (db, op) => {
    const o = op as OpOf<'writeRouting'>;
    writeRouting(db, o.routing);
    if (o.destinations !== undefined) replaceDestinations(db, o.destinations);
    return undefined;
  },
  recordDelivery: (db, op, { env }) => {
    const o = op as OpOf<'recordDelivery'>;
    const recorded = recordDelivery(db, o.record);
    if (o.origin === 'host') env.settleDirectOutbound(o.record.messageOutId);
    return recorded;
  },
  pollOutbound: (db, _op, { mop, env, at, input }) =>
    pollOutbound(db, mop, env, at, input.containerStatus === 'stopped'),
  readOutbox: (_db, op, { env, mop }) => {
    const o = op as OpOf<'readOutbox'>;
    return env.outside.observed(mop, () =>
      readOutboxFiles(env.sessionDir, o.messageId, o.filenames, env.warn, undefined, env.maxAttachmentBytes),
    );
  },
  readOutboxChecked: (_db, op, { env, mop }) =>
    env.outside.observed(mop, () => readOutboxChecked(env, op as OpOf<'readOutboxChecked'>)),
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
        : withInbound(env.inboundDbPath, run, {
            migrate: !env.state.migrated,
            durable: env.durable !== false,
            onViolation: env.onViolation,
          });
    env.state.migrated = true;
    return result;
  };
  // Barriers only order: a batch of nothing else touches no file.
  if (input.ops.every((op) => op.kind === 'barrier')) {
    return input.ops.map((op) => ({ requestId: op.requestId, kind: op.kind, ok: true, value: undefined }));
  }
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
  // Plain writes (no attachments) and barriers cannot fail one by one: such a batch runs without a
  // savepoint per operation. Should it fail all the same, it runs again with them, so a failing
  // operation is still rejected alone.
  if (input.ops.every(cannotFailAlone)) {
    try {
      return inTransaction((db) =>
        input.ops.map((op): OpResult => ({
          requestId: op.requestId,
          kind: op.kind,
          ok: true,
          value: runOp(db, op, { files: [] }),
        })),
      );
    } catch {
      // Retried below, one savepoint per operation: the failure is then reported where it belongs.
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
          forgetAssignedSeq(db);
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

/** A plain write (its content cannot carry attachments) or a barrier. */
function cannotFailAlone(op: MailboxOp): boolean {
  if (op.kind === 'barrier') return true;
  if (op.kind !== 'writeMessage') return false;
  const payload = op.payload as OpOf<'writeMessage'>;
  return !payload.message.content.includes('"attachments"');
}
