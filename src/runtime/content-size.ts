/**
 * The inbound content cap (`limits.maxMessageBytes`), on its own so the commit worker can check
 * stored content without loading the argument validators.
 */
import { RuntimeError } from '../errors.js';

export function assertContentSize(id: string, content: string, maxMessageBytes: number): void {
  // Cheap first: a UTF-8 string is never more than three bytes per UTF-16 unit.
  if (content.length * 3 <= maxMessageBytes) return;
  if (Buffer.byteLength(content) > maxMessageBytes) {
    throw new RuntimeError('TOO_LARGE', `message ${id}: content exceeds ${maxMessageBytes} bytes`);
  }
}
