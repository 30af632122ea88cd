/**
 * The inbound messages every benchmark writes: one shape, built before any clock starts.
 *
 * Invariants:
 * 1. Message `i` of session `s` has id `m-<s>-<i>` (`messageId`), so a check can name what is
 *    missing or duplicated.
 * 2. Content is plain JSON text without attachments (the common case; attachment decoding is
 *    not what these benchmarks measure), addressed to the session's own channel and thread.
 */
import type { InboundMessage } from '../src/index.js';

export const TIMESTAMP = '2026-01-01T00:00:00.000Z';

export interface Address {
  channelType: string;
  platformId: string;
  threadId: string | null;
}

export function messageId(session: number, i: number, prefix = 'm'): string {
  return `${prefix}-${session}-${i}`;
}

export function benchMessage(session: number, i: number, address: Address, prefix = 'm'): InboundMessage {
  return {
    id: messageId(session, i, prefix),
    kind: 'chat',
    timestamp: TIMESTAMP,
    content: JSON.stringify({ text: `message ${i} of session ${session}`, sender: 'bench-user', senderName: 'Bench' }),
    platformId: address.platformId,
    channelType: address.channelType,
    threadId: address.threadId,
  };
}

/** `perSession` messages for each of `sessions` sessions: `out[s][i]`. */
export function buildMessages(
  sessions: number,
  perSession: number,
  addressOf: (s: number) => Address,
  prefix = 'm',
): InboundMessage[][] {
  const out: InboundMessage[][] = new Array(sessions);
  for (let s = 0; s < sessions; s++) {
    const address = addressOf(s);
    const list: InboundMessage[] = new Array(perSession);
    for (let i = 0; i < perSession; i++) list[i] = benchMessage(s, i, address, prefix);
    out[s] = list;
  }
  return out;
}
