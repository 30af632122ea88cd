/**
 * The commit worker: runs on a worker thread and commits one session batch per job, through the
 * very `executeBatch` that replay uses, against the live session folder.
 *
 * Invariants (guarded by test/runtime/commit-threads.test.ts):
 * 1. A job is self-contained plain data (paths, limits, operations, the batch's clock reading):
 *    the worker keeps no state between jobs, so any worker may take any session's batch.
 * 2. Nothing the worker does reaches the central DB: host-originated rows to keep or drop
 *    centrally are handed back (`queued`, `settled`) for the main thread to apply before the
 *    callers settle; warnings are handed back too.
 * 3. `runJob` never throws: failures are per-operation results (executeBatch's own guarantee).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CommitInput } from '../../machines/session.machine.js';
import { decodeOps, decodeResults, encodeResults, type EncodedOps, type EncodedResults } from './job-codec.js';
import {
  executeBatch,
  liveOutside,
  type BatchEnv,
  type OutboundRow,
  type PollLimits,
  type RetryPolicy,
} from './session-ops.js';
import type { ContainerViolation } from '../files/container-violation.js';
import type { OutboundDirectMessage } from './types.js';
import { toWire, type WireResult } from './wire.js';

export const COMMIT_WORKER_ROLE = 'session-actors/commit-worker';

/** Where a session lives and what limits its batch runs under. */
export interface JobEnv {
  sessionDir: string;
  inboundDbPath: string;
  outboundDbPath: string;
  heartbeatPath: string;
  maxAttachmentBytes: number;
  maxMessageBytes: number;
  retry: RetryPolicy;
  poll: PollLimits;
  /** Run the lazy column migration of inbound.db (its first batch in this process). */
  migrate: boolean;
}

/**
 * One batch as it travels to a thread: the operations' payloads in queue order (results come
 * back in the same order, so nothing else of an operation needs to travel).
 */
export interface CommitJob {
  id: number;
  env: JobEnv;
  sessionId: string;
  containerStatus: CommitInput['containerStatus'];
  ops: EncodedOps;
  /** Which operations write `outbound.db` (indexes into `ops`). */
  writesOutbound: number[];
  /** The batch's clock reading, recorded with its results. */
  at: number;
  /** Host-originated rows kept in the central DB, for a batch that polls. */
  direct: OutboundRow[];
}

export interface CommitReply {
  id: number;
  results: WireResult[];
  warnings: [details: Record<string, unknown>, message: string][];
  /** Host-originated messages to keep in the central DB (`writeOutboundDirect` while a container runs). */
  queued: { message: OutboundDirectMessage; timestamp: string }[];
  /** Host-originated messages now settled, to drop from the central DB. */
  settled: string[];
  /** What the container planted that the host removed and went on (a linked journal, say). */
  violations: ContainerViolation[];
}

export function runJob(job: CommitJob): CommitReply {
  const reply: CommitReply = { id: job.id, results: [], warnings: [], queued: [], settled: [], violations: [] };
  const e = job.env;
  const env: BatchEnv = {
    sessionDir: e.sessionDir,
    inboundDbPath: e.inboundDbPath,
    outboundDbPath: e.outboundDbPath,
    heartbeatPath: e.heartbeatPath,
    maxAttachmentBytes: e.maxAttachmentBytes,
    maxMessageBytes: e.maxMessageBytes,
    retry: e.retry,
    poll: e.poll,
    outside: liveOutside(e.outboundDbPath, e.heartbeatPath),
    state: { migrated: !e.migrate },
    warn: (details, message) => void reply.warnings.push([details, message]),
    directOutbound: () => job.direct,
    queueDirectOutbound: (message, timestamp) => {
      reply.queued.push({ message, timestamp });
      return true;
    },
    settleDirectOutbound: (id) => void reply.settled.push(id),
    onViolation: (v) => void reply.violations.push(v),
  };
  const input: CommitInput = {
    sessionId: job.sessionId,
    containerStatus: job.containerStatus,
    ops: decodeOps(job.ops).map((payload, i) => ({ requestId: String(i), kind: payload.kind, payload })),
  };
  for (const i of job.writesOutbound) input.ops[i]!.writesOutbound = true;
  reply.results = toWire(executeBatch(env, input, job.at));
  return reply;
}

/** A job as text: one string crosses the thread boundary instead of a graph of small objects. */
export function encodeJob(job: CommitJob): string {
  return JSON.stringify(job);
}

/** A reply as the worker sent it: an object (it carries file bytes) or text with encoded results. */
export function decodeReply(message: CommitReply | string): CommitReply {
  if (typeof message !== 'string') return message;
  const parsed = JSON.parse(message) as Omit<CommitReply, 'results'> & { results: EncodedResults };
  return { ...parsed, results: decodeResults(parsed.results) };
}

const port = parentPort;
if (port !== null && (workerData as { role?: unknown } | null)?.role === COMMIT_WORKER_ROLE) {
  port.on('message', (text: string) => {
    const reply = runJob(JSON.parse(text) as CommitJob);
    // File contents (readOutbox) are Buffers: those replies go as objects (structured clone keeps
    // the bytes); everything else as text.
    const binary = reply.results.some((r) => r.ok && (r.kind === 'readOutbox' || r.kind === 'readOutboxChecked'));
    port.postMessage(binary ? reply : JSON.stringify({ ...reply, results: encodeResults(reply.results) }));
  });
}
