/**
 * Input validation at the API boundary. Every public method passes its arguments through here
 * before anything is queued or written.
 *
 * Invariants (guarded by test/runtime/validation.test.ts):
 * 1. An id that is empty, not a string or not a safe path segment is `INVALID_ID`, checked by the
 *    one segment function; any other malformed argument is `INVALID_INPUT` naming the field.
 *    The id of an inbound message is the exception: any string of 1 to 1,024 characters without
 *    NUL (`assertMessageId`), because it never becomes a path as it is (src/files/message-id.ts).
 * 2. Validation is pure: it throws before any disk access.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { RuntimeError } from '../errors.js';
import { assertContentSize } from './content-size.js';
import { parseSqliteTime } from './sqlite-time.js';
import { assertMessageId } from '../files/message-id.js';
import { assertSafeSegment, type SegmentRole } from '../files/segment.js';
import type { InboundMessage, OutboundDirectMessage, SessionMode } from './types.js';

const MAX_TEXT = 512;
const text = z.string().max(MAX_TEXT);
const optionalText = text.nullable().optional();
/** Thread ids are channel-supplied but never become paths: any non-empty text without NUL. */
const threadId = z
  .string()
  .min(1)
  .max(MAX_TEXT)
  .refine((s) => !s.includes('\0'), 'must not contain NUL')
  .nullable();
function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : what;
  throw new RuntimeError('INVALID_INPUT', `${what}: ${where} ${issue?.message ?? 'is invalid'}`);
}

function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RuntimeError('INVALID_INPUT', `${what} must be an object`);
  }
  return value as Record<string, unknown>;
}

export function validId(value: unknown, role: SegmentRole): string {
  return assertSafeSegment(value, role);
}

function optionalId(value: unknown, role: SegmentRole): string | null {
  return value === null || value === undefined ? null : assertSafeSegment(value, role);
}

export interface AgentGroupInput {
  id: string;
  name: string;
  folder: string;
  agentProvider: string | null;
}

// Schemas are built once: building one per call cost more than the whole call.
const agentGroupSchema = z.object({ name: text.min(1), folder: text.min(1).optional(), agentProvider: optionalText });
const messagingGroupSchema = z.object({
  channelType: text.min(1),
  platformId: text.min(1),
  name: optionalText,
  isGroup: z.boolean().optional(),
});
const outboundDirectSchema = z.object({
  kind: text.min(1),
  platformId: optionalText,
  channelType: optionalText,
  threadId: threadId.optional(),
  content: z.string(),
});
const filenamesSchema = z.array(z.string()).max(1000);

export function parseAgentGroup(value: unknown): AgentGroupInput {
  const obj = requireObject(value, 'agent group');
  const id = validId(obj.id, 'agentGroupId');
  const rest = parse(agentGroupSchema, obj, 'agent group');
  return { id, name: rest.name, folder: rest.folder ?? id, agentProvider: rest.agentProvider ?? null };
}

export interface MessagingGroupInput {
  id: string;
  channelType: string;
  platformId: string;
  name: string | null;
  isGroup: boolean;
}

export function parseMessagingGroup(value: unknown): MessagingGroupInput {
  const obj = requireObject(value, 'messaging group');
  const id = validId(obj.id, 'id');
  const rest = parse(messagingGroupSchema, obj, 'messaging group');
  return {
    id,
    channelType: rest.channelType,
    platformId: rest.platformId,
    name: rest.name ?? null,
    isGroup: rest.isGroup ?? false,
  };
}

export interface ResolveInput {
  agentGroupId: string;
  messagingGroupId: string | null;
  threadId: string | null;
  mode: SessionMode;
}

const MODES: ReadonlySet<string> = new Set(['shared', 'per-thread', 'agent-shared']);

/** `resolveSession`'s argument, checked by hand: it runs on every resolution. */
export function parseResolve(value: unknown): ResolveInput {
  const obj = requireObject(value, 'resolveSession argument');
  const agentGroupId = validId(obj.agentGroupId, 'agentGroupId');
  const messagingGroupId = optionalId(obj.messagingGroupId, 'id');
  const mode = obj.mode;
  if (typeof mode !== 'string' || !MODES.has(mode)) {
    throw new RuntimeError('INVALID_INPUT', 'resolveSession argument: mode must be shared, per-thread or agent-shared');
  }
  const thread = obj.threadId;
  if (thread !== undefined && thread !== null) {
    if (typeof thread !== 'string' || thread.length === 0 || thread.length > MAX_TEXT || thread.includes('\0')) {
      throw new RuntimeError(
        'INVALID_INPUT',
        `resolveSession argument: threadId must be null or a string of 1 to ${MAX_TEXT} characters without NUL`,
      );
    }
  }
  return {
    agentGroupId,
    messagingGroupId,
    threadId: (thread as string | null | undefined) ?? null,
    mode: mode as SessionMode,
  };
}

const INBOUND_KINDS: ReadonlySet<string> = new Set(['chat', 'chat-sdk', 'task', 'webhook', 'system']);

function invalid(field: string, problem: string): RuntimeError {
  return new RuntimeError('INVALID_INPUT', `message: ${field} ${problem}`);
}

function optionalString(value: unknown, field: string, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalid(field, 'must be a string or null');
  if (value.length > max) throw invalid(field, `must be at most ${max} characters`);
  return value;
}

function flag(value: unknown, field: string, fallback: 0 | 1): 0 | 1 {
  if (value === undefined) return fallback;
  if (value !== 0 && value !== 1) throw invalid(field, 'must be 0 or 1');
  return value;
}

/** A time SQLite's `datetime()` reads (anything else it reads as NULL: never due). */
function isTime(s: string): boolean {
  return !Number.isNaN(parseSqliteTime(s));
}

function isCron(expression: string): boolean {
  try {
    CronExpressionParser.parse(expression);
    return true;
  } catch {
    // Not a cron expression: the caller is told so.
    return false;
  }
}

/**
 * The inbound message of `writeMessage`, checked field by field (each field is read once, into a
 * message of one fixed shape: a spread would give each message a hidden class of its own, which
 * made every later read of it slow). Hand-written rather than a schema: it runs on every write.
 */
export function parseInboundMessage(value: unknown, maxMessageBytes: number): InboundMessage {
  const obj = requireObject(value, 'message');
  const id = assertMessageId(obj.id);
  const kind = obj.kind;
  if (typeof kind !== 'string' || !INBOUND_KINDS.has(kind)) {
    throw invalid('kind', 'must be one of chat, chat-sdk, task, webhook, system');
  }
  const timestamp = obj.timestamp;
  if (typeof timestamp !== 'string' || timestamp.length === 0 || timestamp.length > 64) {
    throw invalid('timestamp', 'must be a string of 1 to 64 characters');
  }
  const content = obj.content;
  if (typeof content !== 'string') throw invalid('content', 'must be a string');
  const platformId = optionalString(obj.platformId, 'platformId', MAX_TEXT);
  const channelType = optionalString(obj.channelType, 'channelType', MAX_TEXT);
  const threadId = optionalString(obj.threadId, 'threadId', MAX_TEXT);
  if (threadId !== null && (threadId.length === 0 || threadId.includes('\0'))) {
    throw invalid('threadId', 'must be non-empty and must not contain NUL');
  }
  const processAfter = optionalString(obj.processAfter, 'processAfter', 64);
  if (processAfter !== null && !isTime(processAfter)) {
    throw invalid('processAfter', 'must be a time SQLite datetime() can parse');
  }
  const recurrence = optionalString(obj.recurrence, 'recurrence', MAX_TEXT);
  if (recurrence !== null && !isCron(recurrence)) throw invalid('recurrence', 'must be a cron expression');
  const trigger = flag(obj.trigger, 'trigger', 1);
  const onWake = flag(obj.onWake, 'onWake', 0);
  const source = obj.sourceSessionId;
  const sourceSessionId = source === undefined || source === null ? null : validId(source, 'sessionId');
  // Content carrying attachments shrinks once they move to files, so its cap is checked on the
  // stored text (src/runtime/ops/write-message.ts); plain content is refused here, before queueing.
  if (!content.includes('"attachments"')) assertContentSize(id, content, maxMessageBytes);
  return {
    id,
    kind,
    timestamp,
    content,
    platformId,
    channelType,
    threadId,
    processAfter,
    recurrence,
    trigger,
    sourceSessionId,
    onWake,
  };
}

export { assertContentSize } from './content-size.js';

export function parseOutboundDirect(value: unknown, maxMessageBytes: number): OutboundDirectMessage {
  const obj = requireObject(value, 'outbound message');
  const id = validId(obj.id, 'messageId');
  const rest = parse(outboundDirectSchema, obj, 'outbound message');
  assertContentSize(id, rest.content, maxMessageBytes);
  return {
    id,
    kind: rest.kind,
    platformId: rest.platformId ?? null,
    channelType: rest.channelType ?? null,
    threadId: rest.threadId ?? null,
    content: rest.content,
  };
}

export function parseFilenames(value: unknown): string[] {
  return parse(filenamesSchema, value, 'filenames');
}

export function parseText(value: unknown, what: string): string {
  return parse(text, value, what);
}
