/**
 * The calls of the API fuzz: a `Call` is plain data (what fast-check generates, shrinks and prints),
 * and `prepare` turns it into an invocation of a public method of `Runtime`, against a model of
 * what exists (groups, sessions, their messages), with the outcome that model demands of a call
 * whose arguments are all valid. Hostile arguments come from test/fuzz/hostile-values.ts.
 */
import fc from 'fast-check';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { SessionInfo } from '../../src/runtime/types.js';
import {
  CONTENT_TAGS,
  content,
  hostile,
  HOSTILE_STRING_TAGS,
  HOSTILE_TAGS,
  OUTBOUND_CONTENT_TAGS,
  outboundContent,
  withThrowingField,
  type ContentTag,
  type HostileTag,
  type OutboundContentTag,
} from './hostile-values.js';

export const AGENT_GROUPS = ['ag-1', 'ag-2', 'ag-3'] as const;
export const MESSAGING_GROUPS = [
  { id: 'mg-1', channelType: 'slack', platformId: 'C1' },
  { id: 'mg-2', channelType: 'telegram', platformId: 'T1' },
  { id: 'mg-3', channelType: 'webhook-x', platformId: 'W1' },
] as const;
const THREADS = ['t-1', 't-2'] as const;
const MODES = ['shared', 'per-thread', 'agent-shared'] as const;
const MESSAGE_IDS = ['m-0', 'm-1', 'm-2', 'm-3', 'm-4', 'spaces/AAA/messages/B.C', 'm-0 with spaces'] as const;
/** Contents a valid message may carry (the rest are hostile). */
const VALID_CONTENTS: ContentTag[] = ['plain', 'withFile', 'generatedName', 'textAttachmentsWord'];

export type SessionRef = { ref: number } | { unknown: number } | { hostile: HostileTag };
/** How an argument object is spoiled: replaced whole, one field replaced, one field a throwing getter. */
export type Spoil = null | { whole: HostileTag } | { field: string; value: HostileTag } | { throwing: string };

/** A call of one public method. */
export type MethodCall =
  | { m: 'upsertAgentGroup'; ag: number; spoil: Spoil }
  | { m: 'upsertMessagingGroup'; mg: number; spoil: Spoil }
  | { m: 'resolveSession'; ag: number; mg: number | null; thread: number | null; mode: number; spoil: Spoil }
  | { m: 'getSession' | 'containerStatus' | 'sessionMode'; s: SessionRef }
  | {
      m: 'listSessions';
      filter: 'none' | 'ag' | 'active' | 'closed' | { hostile: HostileTag } | { status: HostileTag };
    }
  | { m: 'closeSession' | 'writeSessionRouting' | 'wake' | 'messageCounts' | 'repairSession'; s: SessionRef }
  | { m: 'stop'; s: SessionRef; reason: HostileTag | null }
  | { m: 'writeMessage'; s: SessionRef; id: number; content: ContentTag; trigger: 0 | 1; spoil: Spoil }
  | {
      m: 'writeSystemResponse';
      s: SessionRef;
      requestId: HostileTag | null;
      status: HostileTag | null;
      result: HostileTag | null;
    }
  | { m: 'writeOutboundDirect'; s: SessionRef; id: number; content: OutboundContentTag; channel: number; spoil: Spoil }
  | {
      m: 'readOutboxFiles';
      s: SessionRef;
      messageId: HostileTag | null;
      names: 'one' | 'traversal' | 'tooMany' | { hostile: HostileTag };
    }
  | { m: 'clearOutbox'; s: SessionRef; messageId: HostileTag | null }
  | { m: 'stats' | 'whenIdle' };

/** A step: a call, time moving on (timers fire), or calls started together and awaited together. */
export type Call = MethodCall | { m: 'tick'; ms: number } | { m: 'burst'; calls: MethodCall[] };

const tag = fc.constantFrom(...HOSTILE_TAGS);
const stringTag = fc.constantFrom(...HOSTILE_STRING_TAGS);
const maybeHostile = fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: tag });
const sessionRef: fc.Arbitrary<SessionRef> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ ref: fc.nat(9) }) },
  { weight: 1, arbitrary: fc.record({ unknown: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ hostile: tag }) },
);
const spoil = (fields: string[]): fc.Arbitrary<Spoil> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.record({ whole: tag }) },
    { weight: 3, arbitrary: fc.record({ field: fc.constantFrom(...fields, '__proto__', 'constructor'), value: tag }) },
    { weight: 1, arbitrary: fc.record({ throwing: fc.constantFrom(...fields) }) },
  );

const MESSAGE_FIELDS = ['id', 'kind', 'timestamp', 'content', 'platformId', 'channelType', 'threadId', 'processAfter'];
const method: fc.Arbitrary<MethodCall> = fc.oneof(
  // Cheapest first: fast-check shrinks a step towards the first alternative.
  { weight: 1, arbitrary: fc.record({ m: fc.constantFrom('stats' as const, 'whenIdle' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      m: fc.constant('upsertAgentGroup' as const),
      ag: fc.nat(2),
      spoil: spoil(['id', 'name', 'folder', 'agentProvider']),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      m: fc.constant('upsertMessagingGroup' as const),
      mg: fc.nat(2),
      spoil: spoil(['id', 'channelType', 'platformId', 'name', 'isGroup']),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      m: fc.constant('resolveSession' as const),
      ag: fc.nat(2),
      mg: fc.option(fc.nat(2)),
      thread: fc.option(fc.nat(1)),
      mode: fc.nat(2),
      spoil: spoil(['agentGroupId', 'messagingGroupId', 'threadId', 'mode']),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      m: fc.constantFrom('getSession' as const, 'containerStatus' as const, 'sessionMode' as const),
      s: sessionRef,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      m: fc.constant('listSessions' as const),
      filter: fc.oneof(
        fc.constantFrom('none' as const, 'ag' as const, 'active' as const, 'closed' as const),
        fc.record({ hostile: tag }),
        fc.record({ status: tag }),
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      m: fc.constantFrom(
        'closeSession' as const,
        'writeSessionRouting' as const,
        'wake' as const,
        'messageCounts' as const,
        'repairSession' as const,
      ),
      s: sessionRef,
    }),
  },
  { weight: 1, arbitrary: fc.record({ m: fc.constant('stop' as const), s: sessionRef, reason: maybeHostile }) },
  {
    weight: 12,
    arbitrary: fc.record({
      m: fc.constant('writeMessage' as const),
      s: sessionRef,
      id: fc.nat(MESSAGE_IDS.length - 1),
      content: fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(...VALID_CONTENTS) },
        { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TAGS) },
      ),
      trigger: fc.constantFrom(0 as const, 1 as const),
      spoil: spoil(MESSAGE_FIELDS),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      m: fc.constant('writeSystemResponse' as const),
      s: sessionRef,
      requestId: maybeHostile,
      status: maybeHostile,
      result: maybeHostile,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      m: fc.constant('writeOutboundDirect' as const),
      s: sessionRef,
      id: fc.nat(3),
      content: fc.constantFrom(...OUTBOUND_CONTENT_TAGS),
      channel: fc.nat(3),
      spoil: spoil(['id', 'kind', 'platformId', 'channelType', 'threadId', 'content']),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      m: fc.constant('readOutboxFiles' as const),
      s: sessionRef,
      messageId: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: stringTag }),
      names: fc.oneof(
        fc.constantFrom('one' as const, 'traversal' as const, 'tooMany' as const),
        fc.record({ hostile: tag }),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ m: fc.constant('clearOutbox' as const), s: sessionRef, messageId: maybeHostile }),
  },
);

/** One step of a sequence: a call, or a few calls started together and awaited together. */
export const callArb: fc.Arbitrary<Call> = fc.oneof(
  { weight: 45, arbitrary: method },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('tick' as const), ms: fc.constantFrom(0, 100, 5_000, 61_000) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      m: fc.constant('burst' as const),
      calls: fc.array(
        method.filter((c) => c.m !== 'whenIdle'),
        { minLength: 2, maxLength: 4 },
      ),
    }),
  },
);

// ------------------------------------------------------------------------------------- the model

export interface ModelSession {
  id: string;
  agentGroupId: string;
  status: 'active' | 'closed';
  /** Message id → seq, for every message the runtime acknowledged. */
  messages: Map<string, number>;
  maxSeq: number;
}

export class Model {
  readonly agentGroups = new Set<string>();
  readonly messagingGroups = new Set<string>();
  readonly sessions: ModelSession[] = [];
  readonly byId = new Map<string, ModelSession>();

  add(info: SessionInfo): void {
    if (this.byId.has(info.id)) return;
    const s: ModelSession = {
      id: info.id,
      agentGroupId: info.agentGroupId,
      status: 'active',
      messages: new Map(),
      maxSeq: 0,
    };
    this.sessions.push(s);
    this.byId.set(s.id, s);
  }
}

/** What a call must do when the model can tell: resolve (and pass `check`), or reject with `code`. */
export type Expectation = { resolves: true; check?: (value: unknown) => string | undefined } | { rejects: string };

export interface Prepared {
  method: string;
  sync: boolean;
  invoke(): unknown;
  /** The sessions whose folders the call may change (besides creating one it resolves). */
  sessions: string[];
  expect?: Expectation;
  /** Updates the model from a resolved value. */
  learn?(value: unknown): void;
}

/**
 * The value `field` had in an argument built by `spoilt`: undefined when the whole argument was
 * replaced or the field is a throwing getter (the call cannot have used it).
 */
function fieldOf(arg: unknown, how: Spoil, field: string): unknown {
  if (how !== null && 'whole' in how) return undefined;
  const d = Object.getOwnPropertyDescriptor(arg as object, field);
  return d !== undefined && 'value' in d ? d.value : undefined;
}

function spoilt(base: Record<string, unknown>, how: Spoil): unknown {
  if (how === null) return base;
  if ('whole' in how) return hostile(how.whole);
  if ('throwing' in how) return withThrowingField(base, how.throwing);
  return { ...base, [how.field]: hostile(how.value) };
}

const SESSION_METHODS_UNKNOWN = 'UNKNOWN_SESSION';

/** The session id a reference names: a known session, a well-formed unknown one, or a hostile value. */
function sessionArg(model: Model, ref: SessionRef): { value: unknown; known?: ModelSession; unknown: boolean } {
  if ('ref' in ref) {
    const known = model.sessions[ref.ref % Math.max(1, model.sessions.length)];
    return known === undefined ? { value: 'sess-none', unknown: true } : { value: known.id, known, unknown: false };
  }
  if ('unknown' in ref) return { value: ['sess-999', '__proto__', 'constructor'][ref.unknown], unknown: true };
  const value = hostile(ref.hostile);
  const known = typeof value === 'string' ? model.byId.get(value) : undefined;
  return { value, known, unknown: typeof value === 'string' && known === undefined && /^[\w-]{1,128}$/.test(value) };
}

const isEvenAbove = (seq: unknown, floor: number) => typeof seq === 'number' && seq % 2 === 0 && seq > floor;

/** Turns `call` into an invocation on `rt`, with what the model expects of it. */
export function prepare(rt: Runtime, model: Model, call: MethodCall): Prepared {
  const api = rt as unknown as Record<string, (...args: unknown[]) => unknown>;
  const on =
    (method: string, ...args: unknown[]) =>
    () =>
      api[method]!.apply(rt, args);
  switch (call.m) {
    case 'stats':
      return { method: 'stats', sync: true, invoke: on('stats'), sessions: [] };
    case 'whenIdle':
      return { method: 'whenIdle', sync: false, invoke: on('whenIdle'), sessions: [], expect: { resolves: true } };
    case 'upsertAgentGroup': {
      const id = AGENT_GROUPS[call.ag]!;
      const arg = spoilt({ id, name: `Agent ${id}` }, call.spoil);
      return {
        method: call.m,
        sync: false,
        invoke: on(call.m, arg),
        sessions: [],
        expect: call.spoil === null ? { resolves: true } : undefined,
        learn: () => {
          const used = fieldOf(arg, call.spoil, 'id');
          if (typeof used === 'string') model.agentGroups.add(used);
        },
      };
    }
    case 'upsertMessagingGroup': {
      const mg = MESSAGING_GROUPS[call.mg]!;
      const arg = spoilt({ ...mg }, call.spoil);
      return {
        method: call.m,
        sync: false,
        invoke: on(call.m, arg),
        sessions: [],
        expect: call.spoil === null ? { resolves: true } : undefined,
        learn: () => {
          const used = fieldOf(arg, call.spoil, 'id');
          if (typeof used === 'string') model.messagingGroups.add(used);
        },
      };
    }
    case 'resolveSession': {
      const agentGroupId = AGENT_GROUPS[call.ag]!;
      const mg = call.mg === null ? null : MESSAGING_GROUPS[call.mg]!.id;
      const arg = spoilt(
        {
          agentGroupId,
          messagingGroupId: mg,
          threadId: call.thread === null ? null : THREADS[call.thread]!,
          mode: MODES[call.mode]!,
        },
        call.spoil,
      );
      let expect: Expectation | undefined;
      if (call.spoil === null) {
        if (!model.agentGroups.has(agentGroupId)) expect = { rejects: 'UNKNOWN_AGENT_GROUP' };
        else if (mg !== null && !model.messagingGroups.has(mg)) expect = { rejects: 'INVALID_INPUT' };
        else
          expect = {
            resolves: true,
            check: (v) => {
              const { session, created } = v as { session: SessionInfo; created: boolean };
              if (session.agentGroupId !== agentGroupId) return `resolved into agent group ${session.agentGroupId}`;
              if (session.status !== 'active') return `resolved a ${session.status} session`;
              const known = model.byId.get(session.id);
              if (created && known !== undefined) return `created ${session.id} again`;
              if (!created && known === undefined) return `returned ${session.id}, never created`;
              if (!created && known?.status === 'closed') return `returned closed ${session.id}`;
              return undefined;
            },
          };
      }
      return {
        method: call.m,
        sync: false,
        invoke: on(call.m, arg),
        sessions: [],
        expect,
        learn: (v) => model.add((v as { session: SessionInfo }).session),
      };
    }
    case 'getSession':
    case 'containerStatus':
    case 'sessionMode': {
      const s = sessionArg(model, call.s);
      return { method: call.m, sync: true, invoke: on(call.m, s.value), sessions: s.known ? [s.known.id] : [] };
    }
    case 'listSessions': {
      const f = call.filter;
      const arg =
        f === 'none'
          ? undefined
          : f === 'ag'
            ? { agentGroupId: 'ag-1' }
            : f === 'active' || f === 'closed'
              ? { status: f }
              : 'hostile' in f
                ? hostile(f.hostile)
                : { status: hostile(f.status) };
      return { method: call.m, sync: true, invoke: arg === undefined ? on(call.m) : on(call.m, arg), sessions: [] };
    }
    case 'closeSession':
    case 'writeSessionRouting':
    case 'wake':
    case 'messageCounts':
    case 'repairSession': {
      const s = sessionArg(model, call.s);
      let expect: Expectation | undefined;
      if (s.unknown && call.m !== 'repairSession') expect = { rejects: SESSION_METHODS_UNKNOWN };
      else if (s.known !== undefined && 'ref' in call.s) {
        if (call.m === 'closeSession' || call.m === 'messageCounts') expect = { resolves: true };
        else if (call.m === 'wake' || call.m === 'writeSessionRouting')
          expect = s.known.status === 'closed' ? { rejects: 'SESSION_CLOSED' } : { resolves: true };
      }
      return {
        method: call.m,
        sync: false,
        invoke: on(call.m, s.value),
        sessions: s.known ? [s.known.id] : [],
        expect,
        learn: () => {
          if (call.m === 'closeSession' && s.known !== undefined) s.known.status = 'closed';
        },
      };
    }
    case 'stop': {
      const s = sessionArg(model, call.s);
      const args = call.reason === null ? [s.value] : [s.value, hostile(call.reason)];
      return {
        method: call.m,
        sync: false,
        invoke: on(call.m, ...args),
        sessions: s.known ? [s.known.id] : [],
        expect: s.unknown && call.reason === null ? { rejects: SESSION_METHODS_UNKNOWN } : undefined,
      };
    }
    case 'writeMessage': {
      const s = sessionArg(model, call.s);
      const id = MESSAGE_IDS[call.id]!;
      const message = spoilt(
        {
          id,
          kind: 'chat',
          timestamp: '2026-01-01T00:00:00.000Z',
          content: content(call.content),
          trigger: call.trigger,
        },
        call.spoil,
      );
      const known = s.known;
      let expect: Expectation | undefined;
      if (call.spoil === null && VALID_CONTENTS.includes(call.content)) {
        if (s.unknown) expect = { rejects: SESSION_METHODS_UNKNOWN };
        else if (known !== undefined && 'ref' in call.s) {
          const before = known.messages.get(id);
          const floor = known.maxSeq;
          expect =
            known.status === 'closed'
              ? { rejects: 'SESSION_CLOSED' }
              : {
                  resolves: true,
                  check: (v) => {
                    const r = v as { seq: unknown; duplicate: unknown };
                    if (before !== undefined)
                      return r.duplicate === true && r.seq === before
                        ? undefined
                        : `a re-write of seq ${before} gave ${JSON.stringify(r)}`;
                    return r.duplicate === false && isEvenAbove(r.seq, floor)
                      ? undefined
                      : `a new message above seq ${floor} gave ${JSON.stringify(r)}`;
                  },
                };
        }
      }
      return {
        method: call.m,
        sync: false,
        invoke: on(call.m, s.value, message),
        sessions: known ? [known.id] : [],
        expect,
        learn: (v) => {
          const { seq } = v as { seq: number };
          const written = fieldOf(message, call.spoil, 'id');
          if (known === undefined || typeof written !== 'string') return;
          known.messages.set(written, seq);
          known.maxSeq = Math.max(known.maxSeq, seq);
        },
      };
    }
    case 'writeSystemResponse': {
      const s = sessionArg(model, call.s);
      const args = [
        s.value,
        call.requestId === null ? 'q-1' : hostile(call.requestId),
        call.status === null ? 'ok' : hostile(call.status),
        call.result === null ? { answer: 42 } : hostile(call.result),
      ];
      const valid = call.requestId === null && call.status === null && call.result === null;
      return {
        method: call.m,
        sync: false,
        invoke: on(call.m, ...args),
        sessions: s.known ? [s.known.id] : [],
        expect: valid && s.unknown ? { rejects: SESSION_METHODS_UNKNOWN } : undefined,
        learn: (v) => {
          const { id, seq } = v as { id: string; seq: number };
          if (s.known === undefined) return;
          s.known.messages.set(id, seq);
          s.known.maxSeq = Math.max(s.known.maxSeq, seq);
        },
      };
    }
    case 'writeOutboundDirect': {
      const s = sessionArg(model, call.s);
      const channel = [MESSAGING_GROUPS[0], MESSAGING_GROUPS[1], { channelType: '__proto__', platformId: 'P' }, null][
        call.channel
      ];
      const message = spoilt(
        {
          id: `o-${call.id}`,
          kind: 'chat',
          platformId: channel?.platformId ?? null,
          channelType: channel?.channelType ?? null,
          threadId: null,
          content: outboundContent(call.content),
        },
        call.spoil,
      );
      return {
        method: call.m,
        sync: false,
        invoke: on(call.m, s.value, message),
        sessions: s.known ? [s.known.id] : [],
        expect: call.spoil === null && s.unknown ? { rejects: SESSION_METHODS_UNKNOWN } : undefined,
      };
    }
    case 'readOutboxFiles': {
      const s = sessionArg(model, call.s);
      const names =
        call.names === 'one'
          ? ['reply.txt']
          : call.names === 'traversal'
            ? ['../../inbound.db', '..', '../../../../../v2.db', '/etc/passwd', 'a/b']
            : call.names === 'tooMany'
              ? Array.from({ length: 1001 }, (_, i) => `f${i}`)
              : hostile(call.names.hostile);
      return {
        method: call.m,
        sync: false,
        invoke: on(call.m, s.value, call.messageId === null ? 'o-1' : hostile(call.messageId), names),
        sessions: s.known ? [s.known.id] : [],
      };
    }
    case 'clearOutbox': {
      const s = sessionArg(model, call.s);
      return {
        method: call.m,
        sync: false,
        invoke: on(call.m, s.value, call.messageId === null ? 'o-1' : hostile(call.messageId)),
        sessions: s.known ? [s.known.id] : [],
        expect: s.unknown && call.messageId === null ? { rejects: SESSION_METHODS_UNKNOWN } : undefined,
      };
    }
  }
}
