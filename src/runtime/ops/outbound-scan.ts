/**
 * The live read of a container's side of a session folder for one poll: new rows of `messages_out`
 * past the watermark, the acks of pending inbound rows, `container_state` and `.heartbeat`.
 *
 * Invariants (guarded by test/runtime/poll.test.ts):
 * 1. A poll costs what is new, not what is there: rows are read from the watermark on (rowid
 *    order), settled rows are skipped with only their id read, at most `maxPollRows` unsettled due
 *    rows are read whole, and the scan stops after `SCAN_BUDGET` rows ("poll cost stays flat …").
 * 2. A row over `maxOutboundBytes` is never loaded: SQLite measures it (`octet_length`) and its
 *    content comes back null.
 * 3. Nothing the container planted stops the read: a bad `.heartbeat` or a nonsensical
 *    `container_state` becomes a violation in the snapshot; a bad or corrupt `outbound.db` throws
 *    `STORAGE` with its violation (the poll fails alone, the session goes on).
 * 4. A hot journal left by a container killed mid-write is rolled back before the read when the
 *    container is stopped (the host may write `outbound.db` then), so the poll after the exit
 *    delivers what was committed before it (test/runtime/hostile-container.test.ts, "a container
 *    killed in the middle of a write ...").
 */
import type { ContainerViolation } from '../../files/container-violation.js';
import { violationOf } from '../../files/container-violation.js';
import { readHeartbeatMtime } from '../../files/heartbeat.js';
import { isHotJournalError, readOutbound, rollBackOutbound, type Db } from '../../store/session-db.js';
import { stmt } from '../../store/statements.js';
import type { Ack, ContainerState, DeferredRow, OutboundSnapshot, Outside, ScanQuery, ScannedRow } from './types.js';

/** Most rows one poll walks past the watermark (settled ones cost an id lookup each). */
export const SCAN_BUDGET = 5000;

const MAX_TOOL_TIMEOUT_MS = 7 * 24 * 3_600_000;

function readAcks(out: Db, ids: readonly string[]): Ack[] {
  const acks: Ack[] = [];
  const find = stmt(out, 'SELECT message_id, status FROM processing_ack WHERE message_id = ?');
  for (const id of ids) {
    const ack = find.get(id) as Ack | undefined;
    if (ack !== undefined) acks.push({ message_id: String(ack.message_id), status: String(ack.status) });
  }
  return acks;
}

/** `container_state`, or null when there is none; nonsense values become a violation. */
function readContainerState(out: Db, path: string, violations: ContainerViolation[]): ContainerState | null {
  let row: Record<string, unknown> | undefined;
  try {
    row = stmt(
      out,
      'SELECT current_tool, tool_declared_timeout_ms, tool_started_at FROM container_state WHERE id = 1',
    ).get() as Record<string, unknown> | undefined;
  } catch (error) {
    // A container that dropped or reshaped its own table: report it, the poll goes on.
    violations.push({ kind: 'container-state', detail: `container_state unreadable: ${String(error)}`, path });
    return null;
  }
  if (row === undefined) return null;
  const tool = row.current_tool;
  const timeout = row.tool_declared_timeout_ms;
  const started = row.tool_started_at;
  const sane =
    (tool === null || (typeof tool === 'string' && tool.length <= 256)) &&
    (timeout === null ||
      (typeof timeout === 'number' &&
        Number.isSafeInteger(timeout) &&
        timeout >= 0 &&
        timeout <= MAX_TOOL_TIMEOUT_MS)) &&
    (started === null || (typeof started === 'string' && started.length <= 64));
  if (!sane) {
    violations.push({
      kind: 'container-state',
      detail: `container_state holds nonsense (current_tool ${JSON.stringify(String(tool).slice(0, 40))}, tool_declared_timeout_ms ${String(timeout).slice(0, 40)})`,
      path,
    });
    return null;
  }
  return {
    currentTool: tool as string | null,
    toolDeclaredTimeoutMs: timeout as number | null,
    toolStartedAt: started as string | null,
  };
}

export function scanOutbound(outboundDbPath: string, heartbeatPath: string, q: ScanQuery): OutboundSnapshot {
  let violations: ContainerViolation[] = [];
  const read = () => {
    violations = [];
    return readRows(outboundDbPath, q, violations);
  };
  let snapshot: ReturnType<typeof read>;
  try {
    snapshot = read();
  } catch (error) {
    if (q.stopped !== true || !isHotJournalError(error)) throw error;
    // A container killed mid-write: with it stopped the host may roll its journal back, then read.
    rollBackOutbound(outboundDbPath, 'stopped');
    snapshot = read();
  }
  let heartbeatMtimeMs: number | null = null;
  try {
    heartbeatMtimeMs = readHeartbeatMtime(heartbeatPath);
  } catch (error) {
    const v = violationOf(error);
    if (v === undefined) throw error;
    violations.push(v);
  }
  return { ...snapshot, heartbeatMtimeMs, violations };
}

function readRows(
  outboundDbPath: string,
  q: ScanQuery,
  violations: ContainerViolation[],
): Omit<OutboundSnapshot, 'heartbeatMtimeMs' | 'violations'> {
  return readOutbound(outboundDbPath, (out): Omit<OutboundSnapshot, 'heartbeatMtimeMs' | 'violations'> => {
    let settledThrough = q.afterRowid;
    let blocked = false;
    let more = false;
    const wanted: number[] = [];
    const deferred: DeferredRow[] = [];
    // Rows put off earlier whose time has come, then the new rows past the watermark.
    const again = stmt(
      out,
      `SELECT rowid AS rowid, id, deliver_after, (deliver_after IS NULL OR datetime(deliver_after) <= datetime(?)) AS due
       FROM messages_out WHERE rowid = ?`,
    );
    for (const rowid of q.dueRowids ?? []) {
      const r = again.get(q.nowIso, rowid) as
        { rowid: number; id: unknown; deliver_after: unknown; due: number | null } | undefined;
      if (r === undefined || q.isSettled(String(r.id))) continue;
      if (r.due === 0) deferred.push({ rowid, id: String(r.id), deliverAfter: String(r.deliver_after) });
      else if (wanted.length < q.limits.maxPollRows) wanted.push(rowid);
      else more = true;
    }
    const walk = stmt(
      out,
      `SELECT rowid AS rowid, id, deliver_after, (deliver_after IS NULL OR datetime(deliver_after) <= datetime(?)) AS due
       FROM messages_out WHERE rowid > ? ORDER BY rowid LIMIT ?`,
    );
    for (const r of walk.iterate(q.nowIso, q.afterRowid, SCAN_BUDGET) as Iterable<{
      rowid: number;
      id: unknown;
      deliver_after: unknown;
      due: number | null;
    }>) {
      if (wanted.length >= q.limits.maxPollRows) {
        more = true;
        break;
      }
      // A container may put anything in `id` (even NULL): the host keys such a row by its text.
      if (q.isSettled(String(r.id))) {
        if (!blocked) settledThrough = r.rowid;
        continue;
      }
      if (r.due === 0) {
        // Due later: remembered (host_outbound_deferred) and passed, so it holds nothing back.
        deferred.push({ rowid: r.rowid, id: String(r.id), deliverAfter: String(r.deliver_after) });
        if (!blocked) settledThrough = r.rowid;
        continue;
      }
      // Due now — or a time SQLite cannot read (due NULL), which the poll refuses.
      blocked = true;
      wanted.push(r.rowid);
    }
    const read = stmt(
      out,
      `SELECT rowid AS rowid, id, seq, in_reply_to, timestamp, deliver_after, kind, platform_id, channel_type,
         thread_id, CASE WHEN octet_length(content) <= ? THEN content END AS content,
         octet_length(content) AS bytes
       FROM messages_out WHERE rowid = ?`,
    );
    const rows: ScannedRow[] = [];
    for (const rowid of wanted) {
      const row = read.get(q.limits.maxOutboundBytes, rowid) as ScannedRow | undefined;
      if (row !== undefined) rows.push(row);
    }
    return {
      rows,
      settledThrough,
      more,
      deferred,
      acks: readAcks(out, q.pendingIds),
      containerState: readContainerState(out, outboundDbPath, violations),
    };
  });
}

/** The live reads of the container's side of a session folder. */
export function liveOutside(outboundDbPath: string, heartbeatPath: string): Outside {
  return {
    pollSnapshot: (q) => scanOutbound(outboundDbPath, heartbeatPath, q),
    sweepAcks: (op, out) => {
      // Every claim, pending or not (orphans of any kind are removed), plus the pending rows' acks.
      const claims = stmt(
        out,
        "SELECT message_id, status FROM processing_ack WHERE status = 'processing'",
      ).all() as Ack[];
      const seen = new Set(claims.map((a) => a.message_id));
      return [...claims, ...readAcks(out, op.pendingIds).filter((a) => !seen.has(a.message_id))];
    },
    outboundCheck: (_op, check) => check(),
    observed: (_op, compute) => compute(),
  };
}
