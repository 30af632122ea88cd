/**
 * A closed session stays closed whatever is called on it afterwards. Reading a closed session is
 * allowed (`messageCounts`, `readOutboxFiles`, `clearOutbox`), and wakes its actor to do it; that
 * must not reopen it: writes and `wake` still reject `SESSION_CLOSED`, nothing is written and no
 * container starts. Found by test/fuzz/api-fuzz.test.ts (a `wake` after `closeSession` and
 * `clearOutbox` started a container for the closed session).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime/runtime.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir('sa-closed-session-');

const READS: [string, (rt: Runtime, s: string) => Promise<unknown>][] = [
  ['messageCounts', (rt, s) => rt.messageCounts(s)],
  ['readOutboxFiles', (rt, s) => rt.readOutboxFiles(s, 'o-1', ['reply.txt'])],
  ['clearOutbox', (rt, s) => rt.clearOutbox(s, 'o-1')],
];

const CHANGES: [string, (rt: Runtime, s: string) => Promise<unknown>][] = [
  ['writeMessage', (rt, s) => rt.writeMessage(s, chat('after-close', 'must not land'))],
  ['writeSystemResponse', (rt, s) => rt.writeSystemResponse(s, 'q-1', 'ok', null)],
  [
    'writeOutboundDirect',
    (rt, s) =>
      rt.writeOutboundDirect(s, {
        id: 'o-2',
        kind: 'chat',
        platformId: null,
        channelType: null,
        threadId: null,
        content: '{}',
      }),
  ],
  ['writeSessionRouting', (rt, s) => rt.writeSessionRouting(s)],
  ['wake', (rt, s) => rt.wake(s)],
];

describe('a closed session read again', () => {
  // Once failed: the read left a live actor, and writes and wake trusted a live actor to be active.
  it.each(READS)(
    'after %s, every write and wake still rejects SESSION_CLOSED and no container starts',
    async (_read, read) => {
      const problems: string[] = [];
      for (const [name, change] of CHANGES) {
        const dataDir = tmp();
        const driver = fakeDriver();
        const { rt } = await testRuntime(dataDir, { driver });
        const { session } = await rt.resolveSession({
          agentGroupId: 'ag-main',
          messagingGroupId: 'mg-slack',
          threadId: null,
          mode: 'shared',
        });
        await rt.writeMessage(session.id, chat('before-close', 'kept'));
        await rt.closeSession(session.id);
        const started = driver.started.length;
        await read(rt, session.id);
        const outcome = await change(rt, session.id).then(
          () => 'resolved',
          (e: unknown) => String((e as { code?: unknown }).code),
        );
        await rt.whenIdle();
        if (outcome !== 'SESSION_CLOSED') problems.push(`${name}: ${outcome}`);
        if (driver.started.length !== started) problems.push(`${name}: a container started for the closed session`);
        if (rt.containerStatus(session.id) !== 'stopped')
          problems.push(`${name}: container ${rt.containerStatus(session.id)}`);
        await rt.close();
        const db = new Database(join(dataDir, 'v2-sessions', 'ag-main', session.id, 'inbound.db'), { readonly: true });
        const ids = (db.prepare('SELECT id FROM messages_in').all() as { id: string }[]).map((r) => r.id);
        db.close();
        if (ids.length !== 1) problems.push(`${name}: messages_in holds ${JSON.stringify(ids)}`);
      }
      expect(problems).toEqual([]);
    },
  );
});
