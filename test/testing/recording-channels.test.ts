import { describe, expect, it } from 'vitest';
import type { OutboundDelivery } from '../../src/index.js';
import { recordingChannels } from '../../src/testing/index.js';

const delivery = (messageId: string, channelType: string): OutboundDelivery => ({
  sessionId: 'sess-1',
  messageId,
  kind: 'chat',
  channelType,
  platformId: 'P',
  threadId: null,
  content: { text: messageId },
});

describe('recordingChannels', () => {
  it('has an own adapter for every channel type, including names like __proto__', () => {
    const { adapters } = recordingChannels();
    for (const type of ['slack', 'telegram', '__proto__', 'constructor']) {
      expect(Object.hasOwn(adapters, type), type).toBe(true);
      expect(typeof adapters[type]!.deliver, type).toBe('function');
    }
    expect(adapters.slack).toBe(adapters.slack);
  });

  it('records deliveries per channel type and overall, with deterministic platform ids', async () => {
    const channels = recordingChannels();
    expect(await channels.adapters.slack!.deliver(delivery('a', 'slack'))).toEqual({ platformMessageId: 'slack-1' });
    expect(await channels.adapters.github!.deliver(delivery('b', 'github'))).toEqual({
      platformMessageId: 'github-1',
    });
    expect(await channels.adapters.slack!.deliver(delivery('c', 'slack'))).toEqual({ platformMessageId: 'slack-2' });
    expect(channels.delivered.map((d) => d.messageId)).toEqual(['a', 'b', 'c']);
    expect(channels.channel('slack').delivered.map((d) => d.messageId)).toEqual(['a', 'c']);
    expect(channels.channel('telegram').delivered).toEqual([]);
    expect(channels.failed).toEqual([]);
  });

  it('refuses the next deliveries when told to, and records the refusals as failed', async () => {
    const channels = recordingChannels();
    const refusal = new Error('rate limited');
    channels.channel('slack').failNext(2, refusal);
    await expect(channels.adapters.slack!.deliver(delivery('a', 'slack'))).rejects.toBe(refusal);
    await expect(channels.adapters.slack!.deliver(delivery('a', 'slack'))).rejects.toBe(refusal);
    await expect(channels.adapters.slack!.deliver(delivery('a', 'slack'))).resolves.toEqual({
      platformMessageId: 'slack-1',
    });
    expect(channels.channel('slack').failed.map((f) => [f.delivery.messageId, f.error])).toEqual([
      ['a', refusal],
      ['a', refusal],
    ]);
    expect(channels.failed).toHaveLength(2);
    expect(channels.delivered).toHaveLength(1);
  });

  it('only the channel types it is given, in an ordinary object as a configuration is', async () => {
    const channels = recordingChannels(['slack', '__proto__']);
    expect(Object.getPrototypeOf(channels.adapters)).toBe(Object.prototype);
    expect(Object.keys(channels.adapters)).toEqual(['slack', '__proto__']);
    for (const type of ['telegram', 'constructor', 'toString'])
      expect(Object.hasOwn(channels.adapters, type)).toBe(false);
    expect(await channels.adapters.slack!.deliver(delivery('a', 'slack'))).toEqual({ platformMessageId: 'slack-1' });
    expect(channels.channel('slack').delivered.map((d) => d.messageId)).toEqual(['a']);
    expect(channels.channel('telegram').delivered).toEqual([]);
  });
});
