import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.js';
import { chat, testRuntime } from '../helpers/runtime.js';

const tmp = useTmpDir();

function rowsOf(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT id, seq FROM messages_in ORDER BY seq').all() as { id: string; seq: number }[];
  } finally {
    db.close();
  }
}

describe('session mailbox', () => {
  it('assigns even seqs in call order and is idempotent by message id', async () => {
    const { rt } = await testRuntime(tmp());
    const { session } = await rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-slack', threadId: null, mode: 'shared' });
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => rt.writeMessage(session.id, chat(`m${n}`, `hi ${n}`))));
    expect(results.map((r) => r.seq)).toEqual([2, 4, 6, 8, 10]);
    const again = await rt.writeMessage(session.id, chat('m3', 'again'));
    expect(again).toEqual({ seq: 6, duplicate: true });
    expect(rowsOf(rt.paths.inboundDbPath('ag-main', session.id)).map((r) => r.id)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    await rt.close();
  });
});
