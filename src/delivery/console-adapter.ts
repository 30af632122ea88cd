/**
 * The default channel: prints each outbound message on one line and reports no platform id.
 */
import type { ChannelAdapter, OutboundDelivery } from '../runtime/types.js';

export function consoleAdapter(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): ChannelAdapter {
  return {
    async deliver(msg: OutboundDelivery) {
      const text =
        typeof msg.content === 'object' && msg.content !== null && 'text' in msg.content
          ? String((msg.content as { text: unknown }).text)
          : JSON.stringify(msg.content);
      const files = msg.files && msg.files.length > 0 ? ` [files: ${msg.files.map((f) => f.filename).join(', ')}]` : '';
      write(
        `[${msg.channelType ?? '?'}:${msg.platformId ?? '?'}${msg.threadId ? `/${msg.threadId}` : ''}] ${text}${files}`,
      );
      return { platformMessageId: null };
    },
  };
}
