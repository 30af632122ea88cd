import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

/** Fails the test instead of hanging it when `p` never settles. */
function settlesWithin<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

type Outcome = { ok: true } | { ok: false; code: unknown };
const outcome = (p: Promise<unknown>): Promise<Outcome> =>
  p.then(
    () => ({ ok: true }) as const,
    (e: unknown) => ({ ok: false, code: (e as { code?: unknown }).code }) as const,
  );

describe('close()', () => {
  it('settles with a closeSession in flight, every call settled: resolved and durable, or RUNTIME_CLOSED', async () => {
    for (let gap = 0; gap < 12; gap++) {
      const dataDir = tmp();
      const driver = fakeDriver();
      const { rt } = await testRuntime(dataDir, { driver, pollMs: 1_000_000 });
      const { session } = await rt.resolveSession({
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        threadId: null,
        mode: 'shared',
      });
      await rt.wake(session.id);
      const writes = Array.from({ length: 20 }, (_, i) => outcome(rt.writeMessage(session.id, chat(`m${i}`, 'x'))));
      const closing = outcome(rt.closeSession(session.id));
      // Let the close of the session get under way by a varying number of turns.
      for (let i = 0; i < gap; i++) await new Promise((resolve) => setImmediate(resolve));
      const closed = outcome(rt.close());
      const late = outcome(rt.writeMessage(session.id, chat('late', 'x')));
      const results = await settlesWithin(Promise.all([closed, closing, late, ...writes]), 5000, `close (gap ${gap})`);
      expect(results[0], `close (gap ${gap})`).toEqual({ ok: true });
      expect(results[2]).toEqual({ ok: false, code: 'RUNTIME_CLOSED' });
      for (const r of [results[1], ...results.slice(3)]) {
        if (!r!.ok) expect(r!.code, `gap ${gap}`).toBe('RUNTIME_CLOSED');
      }
      // What was acknowledged is on disk.
      const db = new Database(`${dataDir}/v2-sessions/ag-main/${session.id}/inbound.db`, { readonly: true });
      const ids = new Set((db.prepare('SELECT id FROM messages_in').all() as { id: string }[]).map((r) => r.id));
      db.close();
      results.slice(3).forEach((r, i) => {
        if (r!.ok) expect(ids.has(`m${i}`)).toBe(true);
      });
      const central = new Database(`${dataDir}/v2.db`, { readonly: true });
      const row = central.prepare('SELECT status FROM sessions WHERE id = ?').get(session.id) as { status: string };
      central.close();
      if (results[1]!.ok) expect(row.status).toBe('closed');
    }
  });

  it('rejects calls made after close() began with RUNTIME_CLOSED, and a second close() waits for the first', async () => {
    const { rt } = await testRuntime(tmp());
    const { session } = await rt.resolveSession({
      agentGroupId: 'ag-main',
      messagingGroupId: 'mg-slack',
      threadId: null,
      mode: 'shared',
    });
    const first = rt.close();
    const second = rt.close();
    await expect(rt.writeMessage(session.id, chat('m1', 'x'))).rejects.toMatchObject({ code: 'RUNTIME_CLOSED' });
    await Promise.all([first, second]);
  });
});
