/**
 * Outbound delivery: rows found by a session's poll go to the channel adapter of their
 * `channel_type`, with their outbox files; the outcome is recorded in `delivered` through the
 * session's mailbox, and the outbox is cleared after success.
 *
 * Invariants (guarded by test/delivery/deliverer.test.ts):
 * 1. A message is never delivered twice: it is skipped while a delivery of it is in flight, and
 *    polls only return rows without a `delivered` record (written before the in-flight mark clears).
 * 2. A failing adapter is retried `maxAttempts` times with exponential backoff on the injected
 *    clock, then recorded `failed` and reported with `outbound.failed`.
 * 3. A failure to clear the outbox is logged and never turns a delivered message into a failed one.
 * 4. Per session, messages are delivered one at a time in the order the poll returned them
 *    (`seq` order), so a channel sees replies in the order the agent wrote them.
 */
import type { Clock } from '../runtime/clock.js';
import type { OutboundRow, PollResult, SessionOp } from '../runtime/session-ops.js';
import type { ChannelAdapter, Logger, OutboundDelivery } from '../runtime/types.js';

export interface DeliveryTarget {
  sessionId: string;
  /** Channel of the session's messaging group, for rows that name none. */
  defaultChannelType: string | null;
  request<T>(op: SessionOp): Promise<T>;
}

export interface DelivererDeps {
  clock: Clock;
  logger: Logger;
  adapterFor(channelType: string | null): ChannelAdapter;
  nowIso(): string;
  maxAttempts: number;
  backoffMs: number;
  onDelivered(e: { sessionId: string; messageId: string; platformMessageId: string | null }): void;
  onFailed(e: { sessionId: string; messageId: string; error: Error }): void;
}

function parseContent(content: string): unknown {
  try {
    return JSON.parse(content) as unknown;
  } catch {
    // Content is JSON by contract, but a container may write anything: deliver it as text.
    return content;
  }
}

function declaredFiles(content: unknown): string[] {
  if (typeof content !== 'object' || content === null) return [];
  const files = (content as { files?: unknown }).files;
  return Array.isArray(files) ? files.filter((f): f is string => typeof f === 'string') : [];
}

export class Deliverer {
  private readonly inFlight = new Set<string>();
  /** The tail of each session's delivery chain. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly timers = new Set<unknown>();

  constructor(private readonly deps: DelivererDeps) {}

  /** Starts delivering every row of `poll` that is not already on its way. */
  handlePoll(target: DeliveryTarget, poll: PollResult): void {
    for (const row of poll.undelivered) {
      const key = `${target.sessionId}\u0000${row.id}`;
      if (this.inFlight.has(key)) continue;
      this.inFlight.add(key);
      const tail = (this.chains.get(target.sessionId) ?? Promise.resolve())
        .then(() => this.deliver(target, row))
        .finally(() => this.inFlight.delete(key));
      this.chains.set(target.sessionId, tail);
      void tail.finally(() => {
        if (this.chains.get(target.sessionId) === tail) this.chains.delete(target.sessionId);
      });
    }
  }

  get pending(): number {
    return this.inFlight.size;
  }

  cancel(): void {
    for (const t of this.timers) this.deps.clock.clearTimeout(t);
    this.timers.clear();
  }

  private async deliver(target: DeliveryTarget, row: OutboundRow): Promise<void> {
    const { deps } = this;
    try {
      const content = parseContent(row.content);
      const names = declaredFiles(content);
      const files =
        names.length > 0
          ? await target.request<{ filename: string; data: Buffer }[] | undefined>({
              kind: 'readOutbox',
              messageId: row.id,
              filenames: names,
            })
          : undefined;
      const channelType = row.channel_type ?? target.defaultChannelType;
      const msg: OutboundDelivery = {
        sessionId: target.sessionId,
        messageId: row.id,
        kind: row.kind,
        channelType,
        platformId: row.platform_id,
        threadId: row.thread_id,
        content,
        ...(files !== undefined ? { files } : {}),
      };
      const outcome = await this.attempt(deps.adapterFor(channelType), msg);
      if (outcome.ok) {
        await target.request({
          kind: 'recordDelivery',
          record: {
            messageOutId: row.id,
            platformMessageId: outcome.platformMessageId,
            status: 'delivered',
            deliveredAt: deps.nowIso(),
          },
        });
        if (names.length > 0) await target.request({ kind: 'clearOutbox', messageId: row.id });
        deps.onDelivered({
          sessionId: target.sessionId,
          messageId: row.id,
          platformMessageId: outcome.platformMessageId,
        });
      } else {
        await target.request({
          kind: 'recordDelivery',
          record: { messageOutId: row.id, platformMessageId: null, status: 'failed', deliveredAt: deps.nowIso() },
        });
        deps.onFailed({ sessionId: target.sessionId, messageId: row.id, error: outcome.error });
      }
    } catch (error) {
      deps.logger.error({ sessionId: target.sessionId, messageId: row.id, error }, 'delivery bookkeeping failed');
    }
  }

  private async attempt(
    adapter: ChannelAdapter,
    msg: OutboundDelivery,
  ): Promise<{ ok: true; platformMessageId: string | null } | { ok: false; error: Error }> {
    let lastError: Error = new Error('not attempted');
    for (let attempt = 0; attempt < this.deps.maxAttempts; attempt++) {
      if (attempt > 0) await this.sleep(this.deps.backoffMs * 2 ** (attempt - 1));
      try {
        const { platformMessageId } = await adapter.deliver(msg);
        return { ok: true, platformMessageId: platformMessageId ?? null };
      } catch (error) {
        lastError = error instanceof Error ? error : new Error(String(error));
        this.deps.logger.warn(
          { sessionId: msg.sessionId, messageId: msg.messageId, attempt, error: lastError.message },
          'delivery failed',
        );
      }
    }
    return { ok: false, error: lastError };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.deps.clock.setTimeout(() => {
        this.timers.delete(handle);
        resolve();
      }, ms);
      this.timers.add(handle);
    });
  }
}
