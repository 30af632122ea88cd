import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/errors.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { parseInboundMessage } from '../../src/runtime/validate.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

const BAD_IDS: unknown[] = ['', '.', '..', 'a/b', 'a\\b', 'a\0b', 'x'.repeat(200), 42, null, undefined, {}];
/** Inbound message ids are not path segments: any string of 1 to 1,024 characters without NUL. */
const BAD_MESSAGE_IDS: unknown[] = ['', 'a\0b', 'x'.repeat(1025), 42, null, undefined, {}];

type Call = (rt: Runtime, sessionId: string) => Promise<unknown>;

/** Each public method with a malformed argument, and the code it must reject with. */
const cases: [string, 'INVALID_ID' | 'INVALID_INPUT' | 'TOO_LARGE', Call][] = [
  ...BAD_IDS.map((bad): [string, 'INVALID_ID', Call] => [
    `writeMessage with session id ${JSON.stringify(bad)}`,
    'INVALID_ID',
    (rt) => rt.writeMessage(bad as string, chat('m1', 'x')),
  ]),
  ...BAD_MESSAGE_IDS.map((bad): [string, 'INVALID_ID', Call] => [
    `writeMessage with message id ${JSON.stringify(bad)}`,
    'INVALID_ID',
    (rt, s) => rt.writeMessage(s, { ...chat('m1', 'x'), id: bad as string }),
  ]),
  ...BAD_IDS.map((bad): [string, 'INVALID_ID', Call] => [
    `resolveSession with agent group id ${JSON.stringify(bad)}`,
    'INVALID_ID',
    (rt) => rt.resolveSession({ agentGroupId: bad as string, messagingGroupId: null, threadId: null, mode: 'shared' }),
  ]),
  ...BAD_IDS.map((bad): [string, 'INVALID_ID', Call] => [
    `upsertAgentGroup with id ${JSON.stringify(bad)}`,
    'INVALID_ID',
    (rt) => rt.upsertAgentGroup({ id: bad as string, name: 'x' }),
  ]),
  [
    'resolveSession with an unknown mode',
    'INVALID_INPUT',
    (rt) =>
      rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: null, threadId: null, mode: 'everyone' as never }),
  ],
  [
    'resolveSession with a numeric thread',
    'INVALID_INPUT',
    (rt) =>
      rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: null, threadId: 7 as never, mode: 'per-thread' }),
  ],
  ['resolveSession with no argument', 'INVALID_INPUT', (rt) => rt.resolveSession(undefined as never)],
  ['writeMessage with no message', 'INVALID_INPUT', (rt, s) => rt.writeMessage(s, null as never)],
  [
    'writeMessage with an unknown kind',
    'INVALID_INPUT',
    (rt, s) => rt.writeMessage(s, { ...chat('m1', 'x'), kind: 'telepathy' }),
  ],
  [
    'writeMessage with non-string content',
    'INVALID_INPUT',
    (rt, s) => rt.writeMessage(s, { ...chat('m1', 'x'), content: { text: 1 } as never }),
  ],
  [
    'writeMessage with trigger 2',
    'INVALID_INPUT',
    (rt, s) => rt.writeMessage(s, { ...chat('m1', 'x'), trigger: 2 as never }),
  ],
  [
    'writeMessage with an unparsable processAfter',
    'INVALID_INPUT',
    (rt, s) => rt.writeMessage(s, { ...chat('m1', 'x'), processAfter: 'soon' }),
  ],
  [
    'writeMessage with content over maxMessageBytes',
    'TOO_LARGE',
    (rt, s) => rt.writeMessage(s, chat('m1', 'x'.repeat(2048))),
  ],
  [
    'writeOutboundDirect with an unsafe id',
    'INVALID_ID',
    (rt, s) =>
      rt.writeOutboundDirect(s, {
        id: '../x',
        kind: 'chat',
        platformId: null,
        channelType: null,
        threadId: null,
        content: '{}',
      }),
  ],
  [
    'writeOutboundDirect with no content',
    'INVALID_INPUT',
    (rt, s) =>
      rt.writeOutboundDirect(s, {
        id: 'o1',
        kind: 'chat',
        platformId: null,
        channelType: null,
        threadId: null,
      } as never),
  ],
  ['readOutboxFiles with an unsafe message id', 'INVALID_ID', (rt, s) => rt.readOutboxFiles(s, '..', ['a'])],
  ['readOutboxFiles with a non-array of names', 'INVALID_INPUT', (rt, s) => rt.readOutboxFiles(s, 'o1', 'a' as never)],
  ['clearOutbox with an unsafe message id', 'INVALID_ID', (rt, s) => rt.clearOutbox(s, 'a/b')],
  [
    'upsertMessagingGroup with no platform id',
    'INVALID_INPUT',
    (rt) => rt.upsertMessagingGroup({ id: 'mg', channelType: 'slack' } as never),
  ],
  ['upsertAgentGroup with no name', 'INVALID_INPUT', (rt) => rt.upsertAgentGroup({ id: 'ag' } as never)],
  [
    'writeSystemResponse with a numeric request id',
    'INVALID_INPUT',
    (rt, s) => rt.writeSystemResponse(s, 5 as never, 'ok', {}),
  ],
  ['stop with an unsafe session id', 'INVALID_ID', (rt) => rt.stop('../../etc')],
  ['wake with an unsafe session id', 'INVALID_ID', (rt) => rt.wake('a\0')],
  ['closeSession with an unsafe session id', 'INVALID_ID', (rt) => rt.closeSession('')],
];

function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('input validation at the boundary', () => {
  it.each(cases)('%s rejects with %s and writes nothing', async (_name, code, call) => {
    const dataDir = tmp();
    const { rt } = await testRuntime(dataDir, { limits: { maxMessageBytes: 1024 } });
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    await rt.writeMessage(session.id, chat('m0', 'baseline'));
    const tree = listTree(dataDir);
    const sessions = rt.listSessions().length;
    let thrownSynchronously = false;
    let result: Promise<unknown>;
    try {
      result = call(rt, session.id);
    } catch {
      thrownSynchronously = true;
      result = Promise.resolve();
    }
    expect(thrownSynchronously).toBe(false);
    const error = await result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error).toMatchObject({ code });
    expect(listTree(dataDir).filter((f) => !f.endsWith('-wal') && !f.endsWith('-shm'))).toEqual(
      tree.filter((f) => !f.endsWith('-wal') && !f.endsWith('-shm')),
    );
    expect(rt.listSessions()).toHaveLength(sessions);
    await expect(rt.writeMessage(session.id, chat('m-after', 'still serving'))).resolves.toMatchObject({ seq: 4 });
    await rt.close();
  });

  it('refuses an unknown session with UNKNOWN_SESSION and creates no folder', async () => {
    const dataDir = tmp();
    const { rt } = await testRuntime(dataDir);
    await expect(rt.writeMessage('sess-missing', chat('m1', 'x'))).rejects.toMatchObject({ code: 'UNKNOWN_SESSION' });
    await expect(rt.wake('sess-missing')).rejects.toMatchObject({ code: 'UNKNOWN_SESSION' });
    // No container runs for an unknown session: `stopped`, never a throw.
    expect(rt.containerStatus('sess-missing')).toBe('stopped');
    expect(existsSync(join(dataDir, 'v2-sessions'))).toBe(false);
    await rt.close();
  });

  it('reports a throwing listener as an error event and keeps running', async () => {
    const { rt } = await testRuntime(tmp());
    const errors: Error[] = [];
    rt.on('error', (e) => errors.push(e.error));
    rt.on('session.created', () => {
      throw new Error('listener bug');
    });
    const seen: string[] = [];
    rt.on('session.created', (e) => seen.push(e.session.id));
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: null,
      threadId: null,
      mode: 'shared',
    });
    expect(errors.map((e) => e.message)).toEqual(['listener bug']);
    expect(seen).toEqual([session.id]);
    await rt.close();
  });
});

describe('parseInboundMessage', () => {
  it('gives every valid message the same fields in the same order, with the defaults filled in', () => {
    const minimal = parseInboundMessage({ id: 'm1', kind: 'chat', timestamp: 'T', content: '{}' }, 1024);
    const full = parseInboundMessage(
      {
        onWake: 1,
        trigger: 0,
        sourceSessionId: 'sess-2',
        recurrence: '0 9 * * *',
        processAfter: '2026-01-01T00:00:00Z',
        threadId: 'th',
        channelType: 'slack',
        platformId: 'C1',
        content: '{"text":"x"}',
        timestamp: 'T2',
        kind: 'task',
        id: 'm2',
      },
      1024,
    );
    expect(Object.keys(full)).toEqual(Object.keys(minimal));
    expect(minimal).toEqual({
      id: 'm1',
      kind: 'chat',
      timestamp: 'T',
      content: '{}',
      platformId: null,
      channelType: null,
      threadId: null,
      processAfter: null,
      recurrence: null,
      trigger: 1,
      sourceSessionId: null,
      onWake: 0,
    });
    expect(full).toMatchObject({ id: 'm2', kind: 'task', trigger: 0, onWake: 1, sourceSessionId: 'sess-2' });
  });

  it('drops fields it does not know', () => {
    const parsed = parseInboundMessage(
      { id: 'm1', kind: 'chat', timestamp: 'T', content: '{}', extra: 'x' } as unknown,
      1024,
    );
    expect(parsed).not.toHaveProperty('extra');
  });
});

describe('the API contract holds for every input', () => {
  it('synchronous methods never throw, whatever they are given', async () => {
    const { rt } = await testRuntime(tmp());
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    const hostile: unknown[] = [
      null,
      undefined,
      42,
      Object.create(null),
      new Proxy(
        {},
        {
          get: () => {
            throw new Error('trap');
          },
          has: () => {
            throw new Error('trap');
          },
        },
      ),
      { agentGroupId: 7 },
      { status: 'nope' },
      {
        get agentGroupId(): string {
          throw new Error('getter');
        },
      },
    ];
    for (const value of hostile) {
      const v = value as never;
      expect(() => rt.getSession(v)).not.toThrow();
      expect(() => rt.sessionMode(v)).not.toThrow();
      expect(() => rt.containerStatus(v)).not.toThrow();
      expect(() => rt.listSessions(v)).not.toThrow();
    }
    expect(rt.listSessions(null)).toHaveLength(1);
    expect(rt.listSessions({ agentGroupId: 7 } as never)).toEqual([]);
    expect(rt.containerStatus(Object.create(null) as never)).toBe('stopped');
    expect(rt.getSession(session.id)?.id).toBe(session.id);
    await rt.close();
  });

  it("turns a caller's own exception while reading its arguments into INVALID_INPUT with the original as cause", async () => {
    for (const eventLog of [false, true]) {
      const dir = tmp();
      const { rt } = await testRuntime(dir, eventLog ? { eventLog: join(dir, 'log.jsonl') } : {});
      const { session } = await rt.resolveSession({
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        threadId: null,
        mode: 'shared',
      });
      const boom = new Error('boom');
      const throwing = new Proxy(
        { id: 'm1', kind: 'chat', timestamp: 'T', content: '{}' },
        {
          get() {
            throw boom;
          },
          ownKeys() {
            throw boom;
          },
        },
      );
      const getter = {
        id: 'm1',
        kind: 'chat',
        timestamp: 'T',
        get content(): string {
          throw boom;
        },
      };
      const calls: [string, () => Promise<unknown>][] = [
        ['writeMessage proxy', () => rt.writeMessage(session.id, throwing as never)],
        ['writeMessage getter', () => rt.writeMessage(session.id, getter as never)],
        ['resolveSession', () => rt.resolveSession(throwing as never)],
        ['upsertAgentGroup', () => rt.upsertAgentGroup(throwing as never)],
        ['upsertMessagingGroup', () => rt.upsertMessagingGroup(throwing as never)],
        ['writeOutboundDirect', () => rt.writeOutboundDirect(session.id, throwing as never)],
        ['writeSystemResponse', () => rt.writeSystemResponse(session.id, 'q', 'ok', getter)],
        ['readOutboxFiles', () => rt.readOutboxFiles(session.id, 'm1', throwing as never)],
      ];
      for (const [name, call] of calls) {
        let result: Promise<unknown>;
        expect(() => (result = call()), name).not.toThrow();
        const error = await result!.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, name).toBeInstanceOf(RuntimeError);
        expect(error, name).toMatchObject({ code: 'INVALID_INPUT' });
        expect((error as Error).cause, name).toBe(boom);
      }
      await expect(rt.writeMessage(session.id, chat('m-ok', 'fine'))).resolves.toMatchObject({ seq: 2 });
      await rt.close();
    }
  });
});
