import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeOps, decodeResults, encodeOps, encodeResults } from '../../src/runtime/job-codec.js';
import type { SessionOp } from '../../src/runtime/ops/types.js';
import type { WireResult } from '../../src/runtime/wire.js';

const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });

const write: fc.Arbitrary<SessionOp> = fc.record({
  kind: fc.constant('writeMessage' as const),
  at: fc.integer({ min: 0 }),
  message: fc.record({
    id: fc.string({ minLength: 1 }),
    kind: fc.constantFrom('chat', 'task', 'system'),
    timestamp: fc.string({ minLength: 1 }),
    content: fc.string(),
    platformId: maybe(fc.string()),
    channelType: maybe(fc.string()),
    threadId: maybe(fc.string()),
    processAfter: maybe(fc.string()),
    recurrence: maybe(fc.string()),
    trigger: fc.constantFrom(0 as const, 1 as const),
    sourceSessionId: maybe(fc.string()),
    onWake: fc.constantFrom(0 as const, 1 as const),
  }),
});
const other: fc.Arbitrary<SessionOp> = fc.constantFrom<SessionOp>(
  { kind: 'pollOutbound' },
  { kind: 'barrier' },
  { kind: 'sweep' },
  { kind: 'clearOutbox', messageId: 'm-1' },
);

describe('job codec', () => {
  it('gives back every mix of operations, in order, through JSON text', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(write, write, other), { maxLength: 40 }), (ops) => {
        const back = decodeOps(JSON.parse(JSON.stringify(encodeOps(ops))) as ReturnType<typeof encodeOps>);
        expect(back).toEqual(ops);
      }),
    );
  });

  it('gives back every mix of results, duplicates and failures included', () => {
    const result: fc.Arbitrary<WireResult> = fc.oneof(
      fc.record({
        requestId: fc.constant('x'),
        kind: fc.constant('writeMessage'),
        ok: fc.constant(true as const),
        value: fc.record({ seq: fc.integer({ min: 2, max: 1e9 }), duplicate: fc.boolean() }),
      }),
      fc.record({
        requestId: fc.constant('x'),
        kind: fc.constant('pollOutbound'),
        ok: fc.constant(true as const),
        value: fc.constant({ undelivered: [] }),
      }),
      fc.record({
        requestId: fc.constant('x'),
        kind: fc.constant('writeMessage'),
        ok: fc.constant(false as const),
        error: fc.constant({ $error: 'STORAGE' as const, message: 'boom' }),
      }),
    );
    fc.assert(
      fc.property(fc.array(result, { maxLength: 40 }), (results) => {
        const indexed = results.map((r, i) => ({ ...r, requestId: String(i) }));
        const back = decodeResults(
          JSON.parse(JSON.stringify(encodeResults(indexed))) as ReturnType<typeof encodeResults>,
        );
        expect(back).toEqual(indexed);
      }),
    );
  });
});
