/**
 * The public shapes of API.md: sessions, messages, adapters, events.
 */
import type { ContainerStatus } from '../../machines/session.machine.js';
import type { SessionMode } from '../../machines/registry.machine.js';
import type { JournalDelivery, JournalTransition } from './session-journal.js';

export type { ContainerStatus, SessionMode };

export interface SessionInfo {
  id: string;
  agentGroupId: string;
  messagingGroupId: string | null;
  threadId: string | null;
  agentProvider: string | null;
  status: 'active' | 'closed';
  containerStatus: ContainerStatus;
  lastActive: string | null;
  createdAt: string;
}

export interface InboundMessage {
  id: string;
  kind: string;
  timestamp: string;
  content: string;
  platformId?: string | null;
  channelType?: string | null;
  threadId?: string | null;
  processAfter?: string | null;
  recurrence?: string | null;
  trigger?: 0 | 1;
  sourceSessionId?: string | null;
  onWake?: 0 | 1;
}

/** Row counts of a session's two DBs (`messageCounts`). */
export interface MessageCounts {
  messagesIn: number;
  messagesOut: number;
  /** `delivered` rows with status `delivered`. */
  delivered: number;
  /** `delivered` rows with status `failed`. */
  failed: number;
}

export interface OutboundDirectMessage {
  id: string;
  kind: string;
  platformId: string | null;
  channelType: string | null;
  threadId: string | null;
  content: string;
}

export interface OutboundDelivery {
  sessionId: string;
  messageId: string;
  kind: string;
  channelType: string | null;
  platformId: string | null;
  threadId: string | null;
  content: unknown;
  files?: { filename: string; data: Buffer }[];
}

export interface ChannelAdapter {
  deliver(msg: OutboundDelivery): Promise<{ platformMessageId: string | null }>;
}

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export interface RuntimeEvents {
  'session.created': (e: { session: SessionInfo }) => void;
  'session.closed': (e: { sessionId: string }) => void;
  'container.status': (e: { sessionId: string; from: ContainerStatus; to: ContainerStatus; reason: string }) => void;
  'message.written': (e: { sessionId: string; id: string; seq: number; duplicate: boolean }) => void;
  'outbound.delivered': (e: { sessionId: string; messageId: string; platformMessageId: string | null }) => void;
  'outbound.failed': (e: { sessionId: string; messageId: string; error: Error }) => void;
  error: (e: { error: Error; sessionId?: string }) => void;
  /** A `kind: 'system'` row from the container: for the host to act on, never sent to a channel. */
  'system.message': (e: { sessionId: string; messageId: string; content: unknown }) => void;
  /** The host refused something the container did (also logged at `warn`). */
  'container.violation': (e: { sessionId: string; kind: string; detail: string }) => void;
}

/** One session as `describeSession` shows it (for dashboards). */
export interface SessionView {
  session: SessionInfo;
  mode: SessionMode | undefined;
  /** The state of each region of the session's actor; null when the actor is not live. */
  state: { container: string; poller: string; mailbox: string } | null;
  /** Operations queued, committing or awaited. */
  queued: number;
  /** Row counts, when known without opening files (see `messageCounts` for exact ones). */
  counts: { messagesIn: number; messagesOut: number; delivered: number; failed: number } | null;
  container: { pid: number | null; startedAt: string | null; heartbeatAgeMs: number | null } | null;
  /** Recent state changes of the container and poller regions, oldest first (at most 50). */
  transitions: JournalTransition[];
  /** Recent delivery outcomes, oldest first (at most 20). */
  deliveries: JournalDelivery[];
}
