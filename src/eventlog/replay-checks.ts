/**
 * How replay compares what it recomputes with what the live run recorded: commit results as the
 * log keeps them (a write by its seq and duplicate flag, a failure by its code), and a rejected
 * call by the code its arguments' validation raises again. Used by src/eventlog/replay.ts.
 *
 * Invariant (guarded by test/eventlog/replay.test.ts and the fixture logs): `sameResult` agrees
 * with comparing `comparable` of both sides, and never depends on error messages.
 */
import type { OpResult } from '../../machines/session.machine.js';
import { RuntimeError } from '../errors.js';
import {
  parseAgentGroup,
  parseFilenames,
  parseInboundMessage,
  parseMessagingGroup,
  parseOutboundDirect,
  parseResolve,
  parseText,
  validId,
} from '../runtime/validate.js';
import { toLogJSON } from './format.js';
import { summarizeResult } from './recorder.js';

/** What a result looks like once logged: comparable across the live run and the replay. */
export function comparable(result: OpResult | undefined): unknown {
  if (result === undefined) return undefined;
  // The common case, cheaply: a write's result is its seq and duplicate flag.
  if (result.ok && result.kind === 'writeMessage') {
    const v = result.value as { seq: number; duplicate: boolean };
    return { requestId: result.requestId, ok: true, value: { seq: v.seq, duplicate: v.duplicate } };
  }
  if (!result.ok) {
    const error = result.error as { code?: unknown; $error?: unknown };
    return { requestId: result.requestId, ok: false, code: error.code ?? error.$error };
  }
  const summarized = summarizeResult(result) as { value?: unknown };
  return JSON.parse(toLogJSON({ requestId: result.requestId, ok: true, value: summarized.value ?? null }));
}

/** Whether a recomputed result equals the recorded one, as `comparable` sees them. */
export function sameResult(actual: OpResult | undefined, recorded: OpResult | undefined): boolean {
  // The common case without building anything: a write's seq and duplicate flag.
  if (
    actual?.ok === true &&
    recorded?.ok === true &&
    actual.kind === 'writeMessage' &&
    recorded.kind === 'writeMessage'
  ) {
    const a = actual.value as { seq: number; duplicate: boolean };
    const r = recorded.value as { seq?: unknown; duplicate?: unknown } | null;
    return actual.requestId === recorded.requestId && a.seq === r?.seq && a.duplicate === r.duplicate;
  }
  return JSON.stringify(comparable(actual)) === JSON.stringify(comparable(recorded));
}

export function recordedError(result: OpResult | undefined): RuntimeError {
  const error = (result as { error?: { $error?: string; message?: string } } | undefined)?.error;
  const code = (error?.$error ?? 'STORAGE') as RuntimeError['code'];
  return new RuntimeError(code, error?.message ?? 'recorded failure');
}

/** Re-runs the pure validation of a public method; returns the error code it raises, if any. */
export function validationCode(method: string, args: unknown[], maxMessageBytes: number): string | undefined {
  const [a, b, c, d] = args;
  try {
    switch (method) {
      case 'upsertAgentGroup':
        parseAgentGroup(a);
        break;
      case 'upsertMessagingGroup':
        parseMessagingGroup(a);
        break;
      case 'resolveSession':
        parseResolve(a);
        break;
      case 'writeMessage':
        validId(a, 'sessionId');
        parseInboundMessage(b, maxMessageBytes);
        break;
      case 'writeOutboundDirect':
        validId(a, 'sessionId');
        parseOutboundDirect(b, maxMessageBytes);
        break;
      case 'writeSystemResponse':
        validId(a, 'sessionId');
        parseText(b, 'requestId');
        parseText(c, 'status');
        void d;
        break;
      case 'readOutboxFiles':
        validId(a, 'sessionId');
        validId(b, 'messageId');
        parseFilenames(c);
        break;
      case 'clearOutbox':
        validId(a, 'sessionId');
        validId(b, 'messageId');
        break;
      case 'stop':
        validId(a, 'sessionId');
        if (b !== null && b !== undefined) parseText(b, 'reason');
        break;
      default:
        validId(a, 'sessionId');
    }
    return undefined;
  } catch (error) {
    return error instanceof RuntimeError ? error.code : 'THROWN';
  }
}
