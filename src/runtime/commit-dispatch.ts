/**
 * Hands a session's batch to a commit thread and brings its reply back onto the event loop. The
 * host-originated rows a poll needs (central `outbound_direct`) travel with the batch; what the
 * thread hands back — warnings, violations it repaired, host rows to keep or drop centrally — is
 * applied before the callers settle.
 *
 * Invariants (guarded by test/runtime/commit-threads.test.ts and test/runtime/mailbox.test.ts):
 * 1. `done` runs exactly once per batch, with one result per operation in operation order, each
 *    carrying its operation's request id.
 * 2. `inFlight` counts batches on a thread and not yet answered (`whenIdle` waits for none).
 */
import type { CommitInput, OpResult } from '../../machines/session.machine.js';
import { toStorageError } from '../errors.js';
import type { SessionPaths } from '../files/paths.js';
import { deleteDirectOutbound } from '../store/central.js';
import type { Db } from '../store/session-db.js';
import { CommitThreads } from './commit-threads.js';
import { encodeOps } from './job-codec.js';
import type { SessionActor } from './session-actor.js';
import { directOutboundRows, queueDirectOutbound } from './session-env.js';
import type { OutboundRow, SessionOp } from './session-ops.js';
import type { Settings } from './settings.js';
import type { Logger } from './types.js';
import type { Violations } from './violations.js';
import { fromWire } from './wire.js';

export interface CommitDispatchDeps {
  central: Db;
  paths: SessionPaths;
  settings: Settings;
  logger: Logger;
  violations: Violations;
  report: (error: unknown, sessionId?: string) => void;
}

export class CommitDispatch {
  private readonly threads = CommitThreads.shared();
  /** Batches handed to a thread and not answered yet. */
  inFlight = 0;

  constructor(private readonly deps: CommitDispatchDeps) {}

  /** Commits a batch of `actor` on a commit thread; `done` gets its results on the event loop. */
  commit(actor: SessionActor, input: CommitInput, at: number, done: (results: OpResult[]) => void): void {
    const { central, paths, settings, logger, violations, report } = this.deps;
    const ag = actor.agentGroupId;
    const sessionId = actor.id;
    let direct: OutboundRow[] = [];
    if (input.ops.some((op) => op.kind === 'pollOutbound')) {
      try {
        direct = directOutboundRows(central, sessionId);
      } catch (error) {
        report(toStorageError(error, 'direct outbound'), sessionId);
      }
    }
    this.inFlight++;
    const writesOutbound: number[] = [];
    input.ops.forEach((op, i) => {
      if (op.writesOutbound === true) writesOutbound.push(i);
    });
    this.threads.run(
      {
        env: {
          sessionDir: paths.sessionDir(ag, sessionId),
          inboundDbPath: paths.inboundDbPath(ag, sessionId),
          outboundDbPath: paths.outboundDbPath(ag, sessionId),
          heartbeatPath: paths.heartbeatPath(ag, sessionId),
          maxAttachmentBytes: settings.maxAttachmentBytes,
          maxMessageBytes: settings.maxMessageBytes,
          retry: { maxTries: settings.maxTries, backoffMs: settings.retryBackoffMs },
          poll: {
            maxPollRows: settings.maxPollRows,
            maxOutboundBytes: settings.maxOutboundBytes,
            timezone: settings.timezone,
          },
          migrate: !actor.migrated,
        },
        sessionId,
        containerStatus: input.containerStatus,
        ops: encodeOps(input.ops.map((op) => op.payload as SessionOp)),
        writesOutbound,
        at,
        direct,
      },
      (reply) => {
        this.inFlight--;
        actor.migrated = true;
        for (const [details, message] of reply.warnings) logger.warn({ sessionId, ...details }, message);
        for (const v of reply.violations ?? []) violations.report(sessionId, v, true);
        try {
          for (const q of reply.queued) queueDirectOutbound(central, sessionId, q.message, q.timestamp);
          for (const id of reply.settled) deleteDirectOutbound(central, sessionId, id);
        } catch (error) {
          report(toStorageError(error, 'direct outbound'), sessionId);
        }
        // Results come back in operation order, keyed by index: give them their request ids back.
        const results = fromWire(reply.results);
        for (let i = 0; i < results.length; i++) results[i]!.requestId = input.ops[i]!.requestId;
        done(results);
      },
    );
  }
}
