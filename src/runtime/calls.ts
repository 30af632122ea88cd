/**
 * The small rules every public call follows, kept out of the facade: rejections instead of throws,
 * which methods write (an observer refuses them), minted ids in the event log, filters as data.
 */
import type { ContainerDriver } from '../container/driver.js';
import { RuntimeError } from '../errors.js';
import type { Recorder } from '../eventlog/recorder.js';
import type { LogSettings } from '../eventlog/format.js';
import type { SessionRow } from '../store/central.js';
import type { IdSource } from './clock.js';
import type { Settings } from './settings.js';
import type { ContainerStatus, SessionInfo } from './types.js';

/**
 * Rejects instead of throwing: every public method runs its body through this. A body that
 * already returns a promise is handed back as it is, with no promise wrapped around it.
 */
export function guarded<T>(body: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Wraps an id source so every minted id is also written to the event log. */
export function recordingIds(ids: IdSource, recorder: Recorder): IdSource {
  return {
    next(prefix) {
      const v = ids.next(prefix);
      recorder.record({ k: 'id', p: prefix, v });
      return v;
    },
  };
}

/** The methods that change something: an observer (`readOnly: true`) rejects them with READ_ONLY. */
export const WRITES: ReadonlySet<string> = new Set([
  'upsertAgentGroup',
  'upsertMessagingGroup',
  'resolveSession',
  'closeSession',
  'writeMessage',
  'writeSystemResponse',
  'writeOutboundDirect',
  'writeSessionRouting',
  'clearOutbox',
  'wake',
  'stop',
  'repairSession',
]);

export const noneDriver: ContainerDriver = {
  start: async () => {
    throw new RuntimeError('INVALID_INPUT', "driver 'none' never starts containers");
  },
};

/** A `listSessions` filter as plain strings, or undefined when it can match nothing. */
export function readFilter(filter: unknown): { agentGroupId?: string; status?: string } | undefined {
  if (filter === undefined || filter === null) return {};
  if (typeof filter !== 'object') return undefined;
  try {
    const { agentGroupId, status } = filter as Record<string, unknown>;
    if (agentGroupId !== undefined && typeof agentGroupId !== 'string') return undefined;
    if (status !== undefined && status !== 'active' && status !== 'closed') return undefined;
    return { agentGroupId, status };
  } catch {
    // A getter or Proxy of the caller's threw while we read the filter: it matches nothing.
    return undefined;
  }
}

export function toInfo(row: SessionRow, status: ContainerStatus, lastActive: string | null): SessionInfo {
  return {
    id: row.id,
    agentGroupId: row.agent_group_id,
    messagingGroupId: row.messaging_group_id,
    threadId: row.thread_id,
    agentProvider: row.agent_provider,
    status: row.status ?? 'active',
    containerStatus: status,
    lastActive,
    createdAt: row.created_at,
  };
}

export function logSettings(settings: Settings): LogSettings {
  return {
    pollMs: settings.pollMs,
    idleStopMs: settings.idleStopMs,
    passivateMs: settings.passivateMs,
    maxBatch: settings.maxBatch,
    maxAttachmentBytes: settings.maxAttachmentBytes,
    maxMessageBytes: settings.maxMessageBytes,
    maxTries: settings.maxTries,
    retryBackoffMs: settings.retryBackoffMs,
    maxPollRows: settings.maxPollRows,
    maxOutboundBytes: settings.maxOutboundBytes,
    timezone: settings.timezone,
  };
}
