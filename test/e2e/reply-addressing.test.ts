/**
 * Replies go where their message came from, end to end: an agent-shared session reached from two
 * GitHub repositories, the bundled reference agent as a real child process, and a recording
 * channel adapter that sees each reply at the channel, platform and thread of its message.
 */
import { describe, expect, it } from 'vitest';
import { processDriver } from '../../src/container/process-driver.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import type { ChannelAdapter, OutboundDelivery } from '../../src/runtime/types.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();

function recorder() {
  const delivered: OutboundDelivery[] = [];
  const adapter: ChannelAdapter = {
    async deliver(msg) {
      delivered.push(msg);
      return { platformMessageId: `gh-${delivered.length}` };
    },
  };
  return { adapter, delivered };
}

describe('reply addressing end to end', () => {
  it('an agent-shared session answers acme/api in pr-7 and acme/web in pr-9', async () => {
    const github = recorder();
    const rt = await createRuntime({
      dataDir: tmp(),
      driver: processDriver({ env: { AGENT_POLL_MS: '40', AGENT_IDLE_EXIT_MS: '0' } }),
      channels: { github: github.adapter },
      pollMs: 40,
    });
    try {
      const errors: unknown[] = [];
      rt.on('error', (e) => errors.push(e.error));
      const failed: unknown[] = [];
      rt.on('outbound.failed', (e) => failed.push(e));
      const bothDelivered = new Promise<string[]>((done) => {
        const ids: string[] = [];
        rt.on('outbound.delivered', (e) => {
          ids.push(e.messageId);
          if (ids.length === 2) done(ids);
        });
      });

      await rt.upsertAgentGroup({ id: 'reviewer', name: 'Code reviewer' });
      await rt.upsertMessagingGroup({ id: 'gh-api', channelType: 'github', platformId: 'acme/api', name: 'acme/api' });
      await rt.upsertMessagingGroup({ id: 'gh-web', channelType: 'github', platformId: 'acme/web', name: 'acme/web' });
      const api = await rt.resolveSession({
        agentGroupId: 'reviewer',
        messagingGroupId: 'gh-api',
        threadId: 'pr-7',
        mode: 'agent-shared',
      });
      const web = await rt.resolveSession({
        agentGroupId: 'reviewer',
        messagingGroupId: 'gh-web',
        threadId: 'pr-9',
        mode: 'agent-shared',
      });
      expect(web.session.id).toBe(api.session.id);
      const sessionId = api.session.id;

      const from = (id: string, platformId: string, threadId: string, text: string) => ({
        id,
        kind: 'chat',
        timestamp: new Date().toISOString(),
        content: JSON.stringify({ text }),
        channelType: 'github',
        platformId,
        threadId,
      });
      await rt.writeMessage(sessionId, from('gh-1', 'acme/api', 'pr-7', 'review PR 7'));
      await rt.writeMessage(sessionId, from('gh-2', 'acme/web', 'pr-9', 'review PR 9'));

      expect((await bothDelivered).sort()).toEqual(['gh-1-r1', 'gh-2-r1']);
      const where = github.delivered
        .map((d) => [d.messageId, d.channelType, d.platformId, d.threadId, d.content])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      expect(where).toEqual([
        ['gh-1-r1', 'github', 'acme/api', 'pr-7', { text: 'echo: review PR 7' }],
        ['gh-2-r1', 'github', 'acme/web', 'pr-9', { text: 'echo: review PR 9' }],
      ]);
      expect(failed).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await rt.close();
    }
  });
});
