/**
 * What a session's batches run against: its paths, limits and the central-DB hooks. Shared by
 * the live runtime and replay, so both commit batches through the very same code.
 */
import type { WarnFn } from '../files/inbox.js';
import type { SessionPaths } from '../files/paths.js';
import { deleteDirectOutbound, insertDirectOutbound, listDirectOutbound } from '../store/central.js';
import type { Db } from '../store/session-db.js';
import type { BatchEnv, OutboundRow, Outside, PollLimits, RetryPolicy } from './session-ops.js';
import type { OutboundDirectMessage } from './types.js';

export interface SessionEnvSettings {
  maxAttachmentBytes: number;
  maxMessageBytes: number;
  retry: RetryPolicy;
  poll?: PollLimits;
}

export function createSessionEnv(
  central: Db,
  paths: SessionPaths,
  agentGroupId: string,
  sessionId: string,
  settings: SessionEnvSettings,
  outside: Outside,
  warn: WarnFn,
  /** Per-activation memory of the session (whether its inbound.db was migrated in this process). */
  state: { migrated: boolean } = { migrated: false },
): BatchEnv {
  return {
    sessionDir: paths.sessionDir(agentGroupId, sessionId),
    inboundDbPath: paths.inboundDbPath(agentGroupId, sessionId),
    outboundDbPath: paths.outboundDbPath(agentGroupId, sessionId),
    heartbeatPath: paths.heartbeatPath(agentGroupId, sessionId),
    maxAttachmentBytes: settings.maxAttachmentBytes,
    maxMessageBytes: settings.maxMessageBytes,
    retry: settings.retry,
    ...(settings.poll === undefined ? {} : { poll: settings.poll }),
    outside,
    state,
    warn,
    directOutbound: () => directOutboundRows(central, sessionId),
    queueDirectOutbound: (m, timestamp) => queueDirectOutbound(central, sessionId, m, timestamp),
    settleDirectOutbound: (id) => deleteDirectOutbound(central, sessionId, id),
  };
}

/** Host-originated outbound rows a session keeps in the central DB, as poll rows. */
export function directOutboundRows(central: Db, sessionId: string): OutboundRow[] {
  return listDirectOutbound(central, sessionId).map((r): OutboundRow => ({
    id: r.id,
    seq: null,
    in_reply_to: null,
    timestamp: r.created_at,
    deliver_after: null,
    kind: r.kind,
    platform_id: r.platform_id,
    channel_type: r.channel_type,
    thread_id: r.thread_id,
    content: r.content,
    origin: 'host',
  }));
}

/** Keeps a host-originated message in the central DB; false when the id was already there. */
export function queueDirectOutbound(
  central: Db,
  sessionId: string,
  m: OutboundDirectMessage,
  timestamp: string,
): boolean {
  return insertDirectOutbound(central, {
    session_id: sessionId,
    id: m.id,
    kind: m.kind,
    platform_id: m.platformId,
    channel_type: m.channelType,
    thread_id: m.threadId,
    content: m.content,
    created_at: timestamp,
  });
}
