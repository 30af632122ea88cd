/**
 * The whole loop with real child processes and real files: the bundled reference agent answers
 * through the session folder while the runtime wakes, polls, delivers and sweeps.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChildContainerHandle } from '../../src/container/child-handle.js';
import type { ContainerDriver } from '../../src/container/driver.js';
import { processDriver } from '../../src/container/process-driver.js';
import { createRuntime, type RuntimeOptions } from '../../src/runtime/runtime.js';
import { recordingChannels } from '../../src/testing/index.js';
import { nextEvent } from '../helpers/events.js';
import { useTmpDir } from '../helpers/tmp.js';
import { oneSession } from '../helpers/one-session.js';

const tmp = useTmpDir();

function agentDriver(env: Record<string, string> = {}) {
  const base = processDriver({ env: { AGENT_POLL_MS: '40', AGENT_IDLE_EXIT_MS: '0', ...env } });
  const handles: ChildContainerHandle[] = [];
  const driver: ContainerDriver = {
    async start(ctx) {
      const h = (await base.start(ctx)) as ChildContainerHandle;
      handles.push(h);
      return h;
    },
  };
  return { driver, handles };
}

/** Recording adapters for Slack alone (the kit's); `fail` refusals first. */
function recorder(fail = 0) {
  const channels = recordingChannels(['slack']);
  if (fail > 0) channels.channel('slack').failNext(fail, new Error('channel down'));
  return { channels: channels.adapters, delivered: channels.delivered, failed: channels.failed };
}

async function start(options: Partial<RuntimeOptions> & { driver: ContainerDriver }) {
  const rt = await createRuntime({ dataDir: tmp(), pollMs: 40, deliveryBackoffMs: 20, retryBackoffMs: 50, ...options });
  const session = await oneSession(rt, { channelType: 'slack', platformId: 'C1' });
  return { rt, session };
}

const msg = (id: string, content: object) => ({
  id,
  kind: 'chat',
  timestamp: new Date().toISOString(),
  content: JSON.stringify(content),
});

function inboundRow(rt: { paths: { inboundDbPath(a: string, s: string): string } }, sessionId: string, id: string) {
  const db = new Database(rt.paths.inboundDbPath('ag', sessionId), { readonly: true });
  try {
    return db.prepare('SELECT status, tries FROM messages_in WHERE id = ?').get(id) as {
      status: string;
      tries: number;
    };
  } finally {
    db.close();
  }
}

describe('end to end with the reference agent', () => {
  it('a relative dataDir works: the runtime makes it absolute before a container, run in its session folder, sees it', async () => {
    // Before: the relative paths reached the agent, which runs in the session folder and
    // resolved them a second time there; every poll failed and nothing was answered.
    const { driver } = agentDriver();
    const { channels, delivered } = recorder();
    const dataDir = relative(process.cwd(), tmp());
    expect(isAbsolute(dataDir)).toBe(false);
    const { rt, session } = await start({ driver, channels, dataDir });
    try {
      expect(rt.dataDir).toBe(resolve(dataDir));
      expect(isAbsolute(rt.paths.inboundDbPath('ag', session.id))).toBe(true);
      const done = nextEvent(rt, 'outbound.delivered');
      await rt.writeMessage(session.id, msg('m1', { text: 'hello' }));
      await done;
      expect(delivered.map((d) => [d.messageId, d.content])).toEqual([['m1-r1', { text: 'echo: hello' }]]);
    } finally {
      await rt.close();
    }
  });

  it('answers a message: in -> container -> reply delivered to the adapter, then completed', async () => {
    const { driver } = agentDriver();
    const { channels, delivered } = recorder();
    const { rt, session } = await start({ driver, channels });
    const done = nextEvent(rt, 'outbound.delivered');
    await rt.writeMessage(session.id, msg('m1', { text: 'hello' }));
    await done;
    expect(delivered.map((d) => [d.messageId, d.content, d.channelType, d.platformId])).toEqual([
      ['m1-r1', { text: 'echo: hello' }, 'slack', 'C1'],
    ]);
    await rt.close();
  });

  it('a message written while the container runs is answered by the same container', async () => {
    const { driver, handles } = agentDriver();
    const { channels, delivered } = recorder();
    const { rt, session } = await start({ driver, channels });
    const first = nextEvent(rt, 'outbound.delivered');
    await rt.writeMessage(session.id, msg('m1', { text: 'one' }));
    await first;
    const second = nextEvent(rt, 'outbound.delivered');
    await rt.writeMessage(session.id, msg('m2', { text: 'two' }));
    await second;
    expect(handles).toHaveLength(1);
    expect(delivered.map((d) => d.content)).toEqual([{ text: 'echo: one' }, { text: 'echo: two' }]);
    await rt.close();
  });

  it('attachment in -> inbox -> the agent sends the same bytes back -> adapter -> outbox cleared', async () => {
    const { driver } = agentDriver();
    const { channels, delivered } = recorder();
    const { rt, session } = await start({ driver, channels });
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 10, 13]);
    const done = nextEvent(rt, 'outbound.delivered');
    await rt.writeMessage(
      session.id,
      msg('m1', { text: 'file', attachments: [{ name: 'blob.bin', data: bytes.toString('base64') }] }),
    );
    expect(existsSync(`${rt.paths.sessionDir('ag', session.id)}/inbox/m1/blob.bin`)).toBe(true);
    await done;
    expect(delivered[0]?.files).toEqual([{ filename: 'blob.bin', data: bytes }]);
    await rt.readOutboxFiles(session.id, 'm1-r1', ['blob.bin']).then((files) => expect(files).toBeUndefined());
    expect(existsSync(`${rt.paths.sessionDir('ag', session.id)}/outbox/m1-r1`)).toBe(false);
    await rt.close();
  });

  it('an agent killed with SIGKILL mid-turn: the message is retried by a fresh container and completed once', async () => {
    const { driver, handles } = agentDriver();
    const { channels, delivered } = recorder();
    const { rt, session } = await start({ driver, channels });
    const errors: unknown[] = [];
    rt.on('error', (e) => errors.push(e.error));
    const running = nextEvent(rt, 'container.status', (e) => e.to === 'running');
    await rt.writeMessage(session.id, msg('m1', { text: 'slow', sleepMs: 60_000 }));
    await running;
    // Wait until the agent has claimed the message (the container goes busy, not idle).
    await expect.poll(() => claimedBy(rt, session.id), { timeout: 10_000 }).toBe('processing');
    const stopped = nextEvent(rt, 'container.status', (e) => e.to === 'stopped');
    process.kill(handles[0]!.pid as number, 'SIGKILL');
    await expect(stopped).resolves.toMatchObject({ reason: 'exited on SIGKILL' });
    await expect.poll(() => inboundRow(rt, session.id, 'm1').tries, { timeout: 10_000 }).toBe(1);
    // The retry runs the same script; let the next container answer quickly instead.
    const db = new Database(rt.paths.inboundDbPath('ag', session.id));
    db.prepare('UPDATE messages_in SET content = ? WHERE id = ?').run(JSON.stringify({ text: 'fast now' }), 'm1');
    db.close();
    await nextEvent(rt, 'outbound.delivered');
    expect(handles).toHaveLength(2);
    await expect.poll(() => inboundRow(rt, session.id, 'm1').status, { timeout: 10_000 }).toBe('completed');
    expect(delivered.map((d) => d.content)).toEqual([{ text: 'echo: fast now' }]);
    await rt.close();
    expect(errors).toEqual([]);
  });

  it('a failing adapter is retried, then recorded failed, never delivered twice', async () => {
    const { driver } = agentDriver();
    const { channels, delivered, failed: refused } = recorder(10);
    const { rt, session } = await start({ driver, channels, deliveryAttempts: 3 });
    const failed = nextEvent(rt, 'outbound.failed');
    await rt.writeMessage(session.id, msg('m1', { text: 'x' }));
    await expect(failed).resolves.toMatchObject({ messageId: 'm1-r1', error: { message: 'channel down' } });
    const db = new Database(rt.paths.inboundDbPath('ag', session.id), { readonly: true });
    expect(db.prepare('SELECT message_out_id, status FROM delivered').all()).toEqual([
      { message_out_id: 'm1-r1', status: 'failed' },
    ]);
    db.close();
    expect(delivered).toHaveLength(0);
    // Every one of the deliveryAttempts reached the adapter and was refused.
    expect(refused.map((f) => f.delivery.messageId)).toEqual(['m1-r1', 'm1-r1', 'm1-r1']);
    await rt.close();
  });

  it('stops an idle container after idleStopMs', async () => {
    const { driver, handles } = agentDriver();
    const { rt, session } = await start({ driver, idleStopMs: 200, channels: recorder().channels });
    const stopped = nextEvent(rt, 'container.status', (e) => e.to === 'stopped');
    await rt.writeMessage(session.id, msg('m1', { text: 'x' }));
    await expect(stopped).resolves.toMatchObject({ from: 'idle', reason: expect.stringContaining('idle timeout') });
    expect(handles).toHaveLength(1);
    await rt.close();
  });
});

function claimedBy(
  rt: { paths: { outboundDbPath(a: string, s: string): string } },
  sessionId: string,
): string | undefined {
  const db = new Database(rt.paths.outboundDbPath('ag', sessionId), { readonly: true });
  try {
    return (
      db.prepare("SELECT status FROM processing_ack WHERE message_id = 'm1'").get() as { status: string } | undefined
    )?.status;
  } finally {
    db.close();
  }
}
