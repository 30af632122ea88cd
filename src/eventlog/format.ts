/**
 * The event log's line format (JSONL). The first line is a header; every other line is one
 * record, in the order the runtime saw it. Records carry the clock readings and minted ids the
 * runtime used, so replay needs no clock and no id source of its own.
 *
 * | k          | meaning                                                                 |
 * |------------|-------------------------------------------------------------------------|
 * | `call`     | a public API call: `m` method, `a` arguments, `at` clock reading, `c` call number |
 * | `ret`      | its outcome: `ok` and `v` (value) or `err` ({ code, message })          |
 * | `id`       | an id the runtime minted: `p` prefix, `v` value                          |
 * | `ev`       | an event a session actor processed, in processing order: `s`, `e`        |
 * | `activate` | a session actor was created: `s`, `ag` (agent group)                    |
 * | `passivate`| a session actor was dropped from memory: `s`                             |
 * | `reconcile`| at start, a session's stale status was reset to stopped: `s`, `from`     |
 * | `tr`       | a state change the run reported: `s`, `from`, `to`, `reason`, or `created`/`closed` |
 * | `end`      | the run closed: `digest` of the data directory                          |
 *
 * Observations from outside (container start, exit code and signal, rows read from
 * `outbound.db`, acks, delivery results, adapter errors) enter the actors as events, so they are
 * `ev` records: `mailbox.committed` (a commit's results and clock time), `xstate.done.actor…`
 * outputs of container starts, `container.exited`, `mailbox.enqueue` of delivery records. A
 * `mailbox.enqueue` carries one operation (`op`) or the operations of one synchronous run in call
 * order (`ops`). Version 2: commits and commit turns are the actor's own events (`mailbox.committed`,
 * `mailbox.turn`) instead of invoked actors' done events.
 */
export const LOG_FORMAT = 'session-actors/eventlog';
export const LOG_VERSION = 2;

/** The reason of the status change a restart reconciliation reports (recorded and replayed alike). */
export const RECONCILED_REASON = 'reconciled: no live container after restart';

export interface LogSettings {
  pollMs: number;
  idleStopMs: number;
  passivateMs: number;
  maxBatch: number;
  maxAttachmentBytes: number;
  maxMessageBytes: number;
  maxTries: number;
  retryBackoffMs: number;
  /** Poll limits (absent in logs recorded before they existed: the defaults apply). */
  maxPollRows?: number;
  maxOutboundBytes?: number;
  timezone?: string;
}

export interface LogHeader {
  k: 'header';
  format: typeof LOG_FORMAT;
  version: number;
  startedAt: number;
  settings: LogSettings;
}

export interface Transition {
  sessionId: string;
  from: string;
  to: string;
  reason: string;
}

export type LogRecord =
  | { k: 'call'; c: number; m: string; a: unknown[]; at: number }
  | { k: 'ret'; c: number; ok: true; v?: unknown }
  | { k: 'ret'; c: number; ok: false; err: { code: string; message: string } }
  | { k: 'id'; p: string; v: string }
  | { k: 'ev'; s: string; e: { type: string; [key: string]: unknown } }
  | { k: 'activate'; s: string; ag: string }
  | { k: 'passivate'; s: string }
  | { k: 'reconcile'; s: string; from: string }
  | ({ k: 'tr' } & Transition)
  | { k: 'end'; digest: string };

/**
 * JSON for the log. Errors become `{ $error: code, message }`. Bytes never enter the log: file
 * contents become `{ $bytes: size }` (commit results are summarised earlier, see `summarizeResult`).
 */
export function toLogJSON(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Error) return { $error: (v as { code?: unknown }).code ?? 'ERROR', message: v.message };
    // A Buffer arrives here already as its toJSON() form: keep only its size.
    if (typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer') {
      const data = (v as { data?: unknown }).data;
      if (Array.isArray(data)) return { $bytes: data.length };
    }
    return v;
  });
}
