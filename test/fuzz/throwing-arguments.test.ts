/**
 * Every argument of every public method, replaced by a value whose reading runs the caller's code
 * and throws (a Proxy trapping everything, a revoked Proxy, getters that throw, a coercion or
 * `toJSON` that throws): the call never throws, rejects with a `RuntimeError`, and when the
 * caller's code did throw, with `INVALID_INPUT` carrying that exception as `cause` (issue 9 item 6).
 * Exhaustive over the argument positions where test/fuzz/api-fuzz.test.ts samples them; also with
 * an event log, which serialises every argument.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir('sa-throwing-args-');

/** A hostile value and the exceptions the caller's own code raised while something read it. */
interface Trap {
  value: unknown;
  raised: unknown[];
}

const TRAPS: [string, () => Trap][] = [
  [
    'a Proxy whose every trap throws',
    () => {
      const raised: unknown[] = [];
      const fail = (name: string) => () => {
        const e = new Error(`trap ${name}`);
        raised.push(e);
        throw e;
      };
      const handler: ProxyHandler<object> = {};
      for (const name of ['get', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'apply'] as const)
        (handler as Record<string, unknown>)[name] = fail(name);
      return { value: new Proxy({}, handler), raised };
    },
  ],
  [
    'a revoked Proxy',
    () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return { value: proxy, raised: [] };
    },
  ],
  [
    'an object whose getters throw',
    () => {
      const raised: unknown[] = [];
      const o = {};
      for (const f of [
        'id',
        'name',
        'agentGroupId',
        'mode',
        'kind',
        'content',
        'timestamp',
        'channelType',
        'platformId',
      ])
        Object.defineProperty(o, f, {
          enumerable: true,
          get() {
            const e = new Error(`getter ${f}`);
            raised.push(e);
            throw e;
          },
        });
      return { value: o, raised };
    },
  ],
  [
    'an object whose coercions and toJSON throw',
    () => {
      const raised: unknown[] = [];
      const fail = (name: string) => () => {
        const e = new Error(name);
        raised.push(e);
        throw e;
      };
      return {
        value: {
          toString: fail('toString'),
          valueOf: fail('valueOf'),
          toJSON: fail('toJSON'),
          [Symbol.toPrimitive]: fail('toPrimitive'),
        },
        raised,
      };
    },
  ],
];

type Call = (rt: Runtime, sessionId: string, bad: unknown) => Promise<unknown>;

const outbound = { id: 'o1', kind: 'chat', platformId: null, channelType: null, threadId: null, content: '{}' };
const POSITIONS: [string, Call][] = [
  ['upsertAgentGroup(group)', (rt, _s, bad) => rt.upsertAgentGroup(bad as never)],
  ['upsertMessagingGroup(group)', (rt, _s, bad) => rt.upsertMessagingGroup(bad as never)],
  ['resolveSession(args)', (rt, _s, bad) => rt.resolveSession(bad as never)],
  ['closeSession(sessionId)', (rt, _s, bad) => rt.closeSession(bad as never)],
  ['writeMessage(sessionId, _)', (rt, _s, bad) => rt.writeMessage(bad as never, chat('m1', 'x'))],
  ['writeMessage(_, message)', (rt, s, bad) => rt.writeMessage(s, bad as never)],
  ['writeSystemResponse(sessionId, _, _, _)', (rt, _s, bad) => rt.writeSystemResponse(bad as never, 'q', 'ok', null)],
  ['writeSystemResponse(_, requestId, _, _)', (rt, s, bad) => rt.writeSystemResponse(s, bad as never, 'ok', null)],
  ['writeSystemResponse(_, _, status, _)', (rt, s, bad) => rt.writeSystemResponse(s, 'q', bad as never, null)],
  ['writeSystemResponse(_, _, _, result)', (rt, s, bad) => rt.writeSystemResponse(s, 'q', 'ok', bad)],
  ['writeOutboundDirect(sessionId, _)', (rt, _s, bad) => rt.writeOutboundDirect(bad as never, outbound)],
  ['writeOutboundDirect(_, message)', (rt, s, bad) => rt.writeOutboundDirect(s, bad as never)],
  ['writeSessionRouting(sessionId)', (rt, _s, bad) => rt.writeSessionRouting(bad as never)],
  ['readOutboxFiles(sessionId, _, _)', (rt, _s, bad) => rt.readOutboxFiles(bad as never, 'o1', ['a'])],
  ['readOutboxFiles(_, messageId, _)', (rt, s, bad) => rt.readOutboxFiles(s, bad as never, ['a'])],
  ['readOutboxFiles(_, _, filenames)', (rt, s, bad) => rt.readOutboxFiles(s, 'o1', bad as never)],
  ['readOutboxFiles(_, _, [filename])', (rt, s, bad) => rt.readOutboxFiles(s, 'o1', [bad as never])],
  ['clearOutbox(sessionId, _)', (rt, _s, bad) => rt.clearOutbox(bad as never, 'o1')],
  ['clearOutbox(_, messageId)', (rt, s, bad) => rt.clearOutbox(s, bad as never)],
  ['wake(sessionId)', (rt, _s, bad) => rt.wake(bad as never)],
  ['stop(sessionId, _)', (rt, _s, bad) => rt.stop(bad as never)],
  ['stop(_, reason)', (rt, s, bad) => rt.stop(s, bad as never)],
  ['messageCounts(sessionId)', (rt, _s, bad) => rt.messageCounts(bad as never)],
];

describe.each([
  ['without an event log', false],
  ['with an event log', true],
])('an argument whose reading throws, %s', (_label, withLog) => {
  for (const [name, call] of POSITIONS)
    it(`${name} rejects with a RuntimeError, INVALID_INPUT with the cause when the caller threw`, async () => {
      const dataDir = tmp();
      const { rt } = await testRuntime(dataDir, {
        driver: fakeDriver(),
        ...(withLog ? { eventLog: join(dataDir, 'events.log') } : {}),
      });
      const { session } = await rt.resolveSession({
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        threadId: null,
        mode: 'shared',
      });
      const problems: string[] = [];
      for (const [trapName, make] of TRAPS) {
        const trap = make();
        let result: Promise<unknown>;
        try {
          result = call(rt, session.id, trap.value);
        } catch (error) {
          problems.push(`${trapName}: threw synchronously: ${String(error)}`);
          continue;
        }
        const error = await result.then(
          () => undefined,
          (e: unknown) => e,
        );
        if (error === undefined) {
          if (trap.raised.length > 0) problems.push(`${trapName}: resolved although reading the argument threw`);
          continue;
        }
        if (!(error instanceof RuntimeError)) {
          problems.push(`${trapName}: rejected with ${String(error)}, not a RuntimeError`);
          continue;
        }
        if (error.code !== 'INVALID_INPUT' && error.code !== 'INVALID_ID')
          problems.push(`${trapName}: rejected ${error.code} (${error.message})`);
        if (trap.raised.length > 0) {
          if (error.code !== 'INVALID_INPUT')
            problems.push(`${trapName}: the caller's code threw, rejected ${error.code}`);
          if (!trap.raised.includes(error.cause))
            problems.push(`${trapName}: cause ${String(error.cause)} is not the caller's exception`);
        }
      }
      // The session still serves a normal write.
      await expect(rt.writeMessage(session.id, chat('after', 'still fine'))).resolves.toMatchObject({
        duplicate: false,
      });
      await rt.close();
      expect(problems).toEqual([]);
    });
});
