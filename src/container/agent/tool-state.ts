/**
 * `container_state` in `outbound.db` (FORMAT.md): the one row that tells the host a long tool is
 * running, so its liveness checks wait up to the tool's declared timeout instead of taking the
 * silent heartbeat for a hung container. Each function runs inside the caller's transaction.
 *
 * Invariants (guards in test/container/agent-tool.test.ts):
 * 1. While a scripted tool runs, the row holds its name, declared timeout and start time; after
 *    it, all three are NULL ("container_state holds the tool while it runs and is cleared after").
 * 2. A container starts with no tool in flight: a tool left set by a container that died
 *    mid-tool is cleared before the first poll ("… the next container clears it before its first
 *    poll").
 */
import type Database from 'better-sqlite3';

export interface ToolInFlight {
  current_tool: string | null;
  tool_declared_timeout_ms: number | null;
  tool_started_at: string | null;
  updated_at: string;
}

/** Records that `tool` started at `nowIso` and may take up to `timeoutMs`. */
export function setToolInFlight(db: Database.Database, tool: string, timeoutMs: number, nowIso: string): void {
  db.prepare(
    `INSERT INTO container_state (id, current_tool, tool_declared_timeout_ms, tool_started_at, updated_at)
     VALUES (1, ?, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET current_tool = excluded.current_tool,
       tool_declared_timeout_ms = excluded.tool_declared_timeout_ms,
       tool_started_at = excluded.tool_started_at, updated_at = excluded.updated_at`,
  ).run(tool, timeoutMs, nowIso, nowIso);
}

/** Clears the tool in flight; returns false when none was set (nothing written). */
export function clearToolInFlight(db: Database.Database, nowIso: string): boolean {
  const info = db
    .prepare(
      `UPDATE container_state SET current_tool = NULL, tool_declared_timeout_ms = NULL,
         tool_started_at = NULL, updated_at = ?
       WHERE id = 1 AND (current_tool IS NOT NULL OR tool_declared_timeout_ms IS NOT NULL
         OR tool_started_at IS NOT NULL)`,
    )
    .run(nowIso);
  return info.changes > 0;
}
