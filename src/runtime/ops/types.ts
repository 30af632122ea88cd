/**
 * The operations a session mailbox carries, what they return, and what a batch of them runs
 * against. Plain data throughout: operations travel to commit threads and into the event log.
 */
import type { CommitInput, MailboxOp } from '../../../machines/session.machine.js';
import type { ContainerViolation, ViolationSink } from '../../files/container-violation.js';
import type { WarnFn } from '../../files/inbox.js';
import type { DeliveryRecord, Destination, Routing } from '../../store/inbound.js';
import type { Db } from '../../store/session-db.js';
import type { InboundMessage, OutboundDirectMessage } from '../types.js';

/** An outbound row as the host delivers it. */
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

/** A `messages_out` row as a poll reads it: its content only when within the size limit. */
export interface ScannedRow extends Omit<OutboundRow, 'content' | 'origin'> {
  rowid: number;
  /** Null when the row is over `maxOutboundBytes` (its content is never loaded). */
  content: string | null;
  /** Size of the content in bytes, measured by SQLite. */
  bytes: number;
}

export interface Ack {
  message_id: string;
  status: string;
}

/** `container_state` as the container wrote it, kept only when its values make sense. */
export interface ContainerState {
  currentTool: string | null;
  toolDeclaredTimeoutMs: number | null;
  toolStartedAt: string | null;
}

/**
 * One read of the container's side of the folder (`outbound.db`, `.heartbeat`): what replay
 * feeds back in place of the files.
 */
export interface OutboundSnapshot {
  /** Unsettled, due `messages_out` rows past the watermark, in rowid order, at most `maxPollRows`. */
  rows: ScannedRow[];
  /** Every row up to this rowid is settled: the new watermark. */
  settledThrough: number;
  /** Unsettled due rows remain past those read (beyond the limit or the scan budget). */
  more: boolean;
  /** Rows found due later: the poll remembers them (and the watermark passes them). */
  deferred?: DeferredRow[];
  /** `processing_ack` rows of the inbound messages that are still pending. */
  acks: Ack[];
  heartbeatMtimeMs: number | null;
  containerState: ContainerState | null;
  /** What the read refused or could not make sense of (a planted heartbeat, nonsense state). */
  violations: ContainerViolation[];
}

export interface PollResult {
  /** Due outbound rows (agent's and host's) to deliver: checked, not yet settled. */
  undelivered: OutboundRow[];
  /** Rows this poll recorded `failed` because the container broke the format (and why). */
  refused: { messageId: string; violation: ContainerViolation }[];
  /** The container has claimed work it has not finished. */
  claimed: number;
  /** Pending inbound rows that are due and not yet claimed. */
  due: number;
  /** Outbound rows remain unsettled after this poll. */
  open: boolean;
  /** `.heartbeat` modification time in ms, or null when there is none. */
  heartbeatMtimeMs: number | null;
  containerState: ContainerState | null;
  /** Recurring messages this poll completed, and the next occurrence it inserted for each. */
  recurred: { messageId: string; nextId: string; processAfter: string }[];
  /** What was read from outside: the observation replay feeds back. */
  snapshot: OutboundSnapshot;
}

export interface SweepResult {
  /** Claimed messages put back to `pending` for another try. */
  retried: string[];
  /** Claimed messages that ran out of tries. */
  failed: string[];
  /** The acks read from `outbound.db` (the observation replay feeds back). */
  acks: Ack[];
  /** Earliest time (epoch ms) a pending `trigger = 1` message falls due, after now; null if none. */
  nextDueAtMs: number | null;
  /** The unusable `outbound.db` the sweep moved aside and replaced, if it found one. */
  replaced: ContainerViolation | null;
}

/** Retry policy for messages a dead container had claimed (FORMAT.md "Container side"). */
export interface RetryPolicy {
  maxTries: number;
  backoffMs: number;
}

/** Limits a poll reads the container's rows under. */
export interface PollLimits {
  /** Most rows one poll reads (default 100). */
  maxPollRows: number;
  /** Rows over this many bytes of content are refused without being loaded. */
  maxOutboundBytes: number;
  /** Time zone for cron expressions of recurring messages. */
  timezone: string;
}

export type SessionOp =
  | { kind: 'writeMessage'; message: InboundMessage; at: number }
  | { kind: 'writeRouting'; routing: Routing; destinations?: Destination[] }
  /** A delivery outcome; a host-originated row (`origin: 'host'`) also leaves the central DB. */
  | { kind: 'recordDelivery'; record: DeliveryRecord; origin?: 'host' | 'container' }
  | { kind: 'pollOutbound' }
  | { kind: 'readOutbox'; messageId: string; filenames: string[] }
  /** The outbox read of a delivery: files and every refusal (an unsafe id is a refusal too). */
  | { kind: 'readOutboxChecked'; messageId: string; filenames: string[] }
  | { kind: 'clearOutbox'; messageId: string }
  | { kind: 'writeOutboundDirect'; message: OutboundDirectMessage; timestamp: string }
  | { kind: 'sweep' }
  | { kind: 'counts' }
  | { kind: 'barrier' };

/** A `messages_out` row whose `deliver_after` is still ahead. */
export interface DeferredRow {
  rowid: number;
  id: string;
  deliverAfter: string;
}

/** The query a live poll runs against `outbound.db`. */
export interface ScanQuery {
  requestId: string;
  nowIso: string;
  afterRowid: number;
  limits: PollLimits;
  /** Ids of the pending inbound rows, whose acks the poll needs. */
  pendingIds: string[];
  /** Whether an outbound row already has its `delivered` record. */
  isSettled(id: string): boolean;
  /** Rows put off earlier whose `deliver_after` has come (read again, ahead of new rows). */
  dueRowids?: number[];
  /**
   * The container is stopped, so the host may write `outbound.db`: a hot journal a killed
   * container left may be rolled back before the read.
   */
  stopped?: boolean;
}

/**
 * Reads of the world outside the host's own files. Live, they read the session folder; during
 * replay they return what the log recorded for the same operation.
 */
export interface Outside {
  pollSnapshot(query: ScanQuery): OutboundSnapshot;
  sweepAcks(op: { requestId: string; pendingIds: string[] }, out: Db): Ack[];
  /** Checks `outbound.db` (while stopped), replacing it when unusable; returns what it refused. */
  outboundCheck(op: { requestId: string }, check: () => ContainerViolation | null): ContainerViolation | null;
  /** Operations whose whole result is an observation (files, counts of the container's rows). */
  observed(op: MailboxOp, compute: () => unknown): unknown;
}

export interface BatchEnv {
  sessionDir: string;
  inboundDbPath: string;
  outboundDbPath: string;
  maxAttachmentBytes: number;
  maxMessageBytes: number;
  /** Poll limits; the defaults apply when absent (older replay logs). */
  poll?: PollLimits;
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
  /**
   * Receives what the guarded opens repaired on their own and went on (a link or directory
   * planted at a side file, removed): each must become a `container.violation`. Optional: an env
   * without it repairs silently.
   */
  onViolation?: ViolationSink;
  /** Host-originated outbound rows kept in the central DB while a container ran. */
  directOutbound(): OutboundRow[];
  /** Records a direct outbound message in the central DB; false when the id was already there. */
  queueDirectOutbound(message: OutboundDirectMessage, timestamp: string): boolean;
  /** A direct outbound message is settled (its `delivered` record committed): drop its central row. */
  settleDirectOutbound(id: string): void;
}

/** What a batch left behind that must be undone if its COMMIT fails. */
export interface Undo {
  files: { messageId: string; filenames: string[] }[];
}

/** Everything an operation's handler may use besides the DB: no clock, no id source. */
export interface OpContext {
  env: BatchEnv;
  input: CommitInput;
  undo: Undo;
  mop: MailboxOp;
  /** The clock time of the batch (recorded with the batch, so replay reuses it). */
  at: number;
}

export const DEFAULT_POLL_LIMITS: PollLimits = {
  maxPollRows: 100,
  maxOutboundBytes: 4 * 1024 * 1024,
  timezone: 'UTC',
};
