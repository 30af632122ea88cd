/**
 * Message ids that are not path segments (issue 10 item 7): a channel's message id such as Google
 * Chat's `spaces/AAA/messages/BBB.CCC` is stored as it is (up to 1,024 characters), and its
 * attachments go to an inbox folder named by a safe derivation of it, which the stored
 * `localPath` names. Session, agent-group and messaging-group ids stay strict path segments.
 *
 * Before this, such a message was refused with `INVALID_ID` (message ids had to be segments of at
 * most 128 characters); NanoClaw stores it.
 */
import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { createTestRuntime, type TestRuntime } from '../../src/testing/index.js';
import { oneSession } from '../helpers/one-session.js';

const GOOGLE_CHAT_ID = 'spaces/AAA/messages/BBB.CCC';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

async function setup(): Promise<{ t: TestRuntime; sessionId: string; sessionDir: string }> {
  const t = await createTestRuntime({ pollMs: 100 });
  const session = await oneSession(t.runtime, { channelType: 'gchat', platformId: 'spaces/AAA' });
  return { t, sessionId: session.id, sessionDir: t.runtime.paths.sessionDir('ag', session.id) };
}

function withPhoto(t: TestRuntime, id: string) {
  return t.chat(id, 'look', {
    channelType: 'gchat',
    platformId: 'spaces/AAA',
    content: JSON.stringify({ text: 'look', attachments: [{ name: 'photo.png', data: PNG.toString('base64') }] }),
  });
}

function storedContent(sessionDir: string, id: string): { attachments: Record<string, unknown>[] } {
  const db = new Database(join(sessionDir, 'inbound.db'), { readonly: true });
  try {
    const row = db.prepare('SELECT content FROM messages_in WHERE id = ?').get(id) as { content: string };
    return JSON.parse(row.content) as { attachments: Record<string, unknown>[] };
  } finally {
    db.close();
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    return isRuntimeError(error) ? error.code : `not a RuntimeError: ${String(error)}`;
  }
  return 'resolved';
}

describe('a Google Chat message id', () => {
  it('is stored; its attachment lands in a safely named inbox folder that localPath points to', async () => {
    const { t, sessionId, sessionDir } = await setup();
    try {
      await expect(t.runtime.writeMessage(sessionId, withPhoto(t, GOOGLE_CHAT_ID))).resolves.toEqual({
        seq: 2,
        duplicate: false,
      });
      const [folder, ...others] = readdirSync(join(sessionDir, 'inbox'));
      expect(others).toEqual([]);
      expect(folder).toMatch(/^m-[0-9a-f]{32}$/);
      const [entry] = storedContent(sessionDir, GOOGLE_CHAT_ID).attachments;
      expect(entry).toEqual({ name: 'photo.png', localPath: `inbox/${folder}/photo.png` });
      expect(readFileSync(join(sessionDir, entry!.localPath as string))).toEqual(PNG);

      // Idempotent like any id: the same seq, no second folder.
      await expect(t.runtime.writeMessage(sessionId, withPhoto(t, GOOGLE_CHAT_ID))).resolves.toEqual({
        seq: 2,
        duplicate: true,
      });
      expect(readdirSync(join(sessionDir, 'inbox'))).toEqual([folder]);
      expect(t.errors).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('is answered like any other message', async () => {
    const { t, sessionId } = await setup();
    try {
      await t.runtime.writeMessage(sessionId, withPhoto(t, GOOGLE_CHAT_ID));
      await t.clock.advance(500);
      expect(t.channels.delivered.map((d) => [d.channelType, d.platformId, d.content])).toEqual([
        ['gchat', 'spaces/AAA', { text: 'echo: look' }],
      ]);
    } finally {
      await t.close();
    }
  });

  it('two ids that differ only after a slash get folders of their own; a segment id keeps its own name', async () => {
    const { t, sessionId, sessionDir } = await setup();
    try {
      await t.runtime.writeMessage(sessionId, withPhoto(t, 'spaces/AAA/messages/B.1'));
      await t.runtime.writeMessage(sessionId, withPhoto(t, 'spaces/AAA/messages/B.2'));
      await t.runtime.writeMessage(sessionId, withPhoto(t, 'msg-1'));
      const folders = readdirSync(join(sessionDir, 'inbox')).sort();
      expect(folders).toHaveLength(3);
      expect(folders).toContain('msg-1');
      for (const id of ['spaces/AAA/messages/B.1', 'spaces/AAA/messages/B.2', 'msg-1']) {
        const path = storedContent(sessionDir, id).attachments[0]!.localPath as string;
        expect(readFileSync(join(sessionDir, path))).toEqual(PNG);
      }
    } finally {
      await t.close();
    }
  });
});

describe('message id length', () => {
  it('1,024 characters are stored (attachments and all); 1,025 are INVALID_ID and write nothing', async () => {
    const { t, sessionId, sessionDir } = await setup();
    try {
      const longest = `spaces/${'x'.repeat(1024 - 'spaces/'.length)}`;
      expect(longest).toHaveLength(1024);
      await expect(t.runtime.writeMessage(sessionId, withPhoto(t, longest))).resolves.toMatchObject({
        duplicate: false,
      });
      const path = storedContent(sessionDir, longest).attachments[0]!.localPath as string;
      expect(readFileSync(join(sessionDir, path))).toEqual(PNG);

      expect(await codeOf(t.runtime.writeMessage(sessionId, withPhoto(t, `${longest}y`)))).toBe('INVALID_ID');
      expect(await codeOf(t.runtime.writeMessage(sessionId, t.chat('a\0b', 'nul')))).toBe('INVALID_ID');
      expect(await codeOf(t.runtime.writeMessage(sessionId, t.chat('', 'empty')))).toBe('INVALID_ID');
      await expect(t.runtime.messageCounts(sessionId)).resolves.toMatchObject({ messagesIn: 1 });
      expect(readdirSync(join(sessionDir, 'inbox'))).toHaveLength(1);
    } finally {
      await t.close();
    }
  });
});

describe('session, agent-group and messaging-group ids', () => {
  it('stay strict path segments', async () => {
    const { t, sessionId } = await setup();
    const rt = t.runtime;
    try {
      const long = 'a'.repeat(129);
      for (const id of ['spaces/AAA', '..', '.', 'a\\b', long]) {
        expect(await codeOf(rt.upsertAgentGroup({ id, name: 'x' }))).toBe('INVALID_ID');
        expect(await codeOf(rt.upsertMessagingGroup({ id, channelType: 'gchat', platformId: 'p' }))).toBe('INVALID_ID');
        expect(
          await codeOf(rt.resolveSession({ agentGroupId: id, messagingGroupId: 'mg', threadId: null, mode: 'shared' })),
        ).toBe('INVALID_ID');
        expect(
          await codeOf(rt.resolveSession({ agentGroupId: 'ag', messagingGroupId: id, threadId: null, mode: 'shared' })),
        ).toBe('INVALID_ID');
        expect(await codeOf(rt.writeMessage(id, t.chat('m', 'x')))).toBe('INVALID_ID');
        expect(await codeOf(rt.writeMessage(sessionId, t.chat('m', 'x', { sourceSessionId: id })))).toBe('INVALID_ID');
      }
      expect(rt.listSessions()).toHaveLength(1);
      await expect(rt.messageCounts(sessionId)).resolves.toMatchObject({ messagesIn: 0 });
    } finally {
      await t.close();
    }
  });
});
