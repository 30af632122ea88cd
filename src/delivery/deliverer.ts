/**
 * Outbound delivery: rows found by a session's poll go where `routeRow` says — a channel adapter
 * (with their outbox files), the host (`system.message`), or nowhere (recorded `failed`) — and the
 * outcome is recorded in `delivered` through the session's mailbox.
 *
 * Invariants (guarded by test/runtime/delivery-rules.test.ts):
 * 1. A message is never delivered twice: it is skipped while a delivery of it is in flight, and it
 *    stays in flight until its `delivered` record is committed (polls only return unsettled rows).
 * 2. A failing adapter is retried `maxAttempts` times with exponential backoff on the injected
 *    clock, then recorded `failed` and reported with `outbound.failed`.
 * 3. A reply whose outbox cannot be read (an id that names no folder, a refused directory or file)
 *    is delivered without those files and the refusals are reported — never retried forever.
 * 4. Per session, messages reach their channels one at a time in the order the poll returned them
 *    (`seq` order); their records are queued without waiting, so the mailbox commits them in
 *    batches while the next message is already on its way.
 * 5. A failure to clear the outbox is logged and never turns a delivered message into a failed one.
 */
import type { ContainerViolation } from '../files/container-violation.js';
import type { Clock } from '../runtime/clock.js';
import type { OutboundRow, PollResult, SessionOp } from '../runtime/ops/types.js';
import type { ChannelAdapter, Logger, OutboundDelivery } from '../runtime/types.js';
import type { Route } from './router.js';

export interface DeliveryTarget {
  sessionId: string;
  route(row: OutboundRow): Route;
  request<T>(op: SessionOp): Promise<T>;
}

export interface DelivererDeps {
  clock: Clock;
  logger: Logger;
  /** The time a delivery is recorded at, as `delivered.delivered_at` stores it. */
  recordedAt(): string;
  maxAttempts: number;
  backoffMs: number;
  onDelivered(e: { sessionId: string; messageId: string; platformMessageId: string | null }, row: OutboundRow): void;
  onFailed(e: { sessionId: string; messageId: string; error: Error }, row: OutboundRow): void;
  onSystem(e: { sessionId: string; messageId: string; content: unknown }): void;
  onViolation(sessionId: string, violation: ContainerViolation): void;
}

interface OutboxRead {
  files: { filename: string; data: Buffer }[] | undefined;
  refused: { filename: string | null; violation: ContainerViolation }[];
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
  /** The outcome (recorded or not) of each delivery on its way, by session and message. */
  private readonly inFlight = new Map<string, Promise<boolean>>();
  /** The tail of each session's delivery chain. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly timers = new Set<unknown>();

  constructor(private readonly deps: DelivererDeps) {}

  /**
   * Starts delivering every row of `poll` that is not already on its way. Resolves true once every
   * row of the poll has its outcome recorded (also a row another poll had already started); false
   * when a record failed.
   */
  handlePoll(target: DeliveryTarget, poll: Pick<PollResult, 'undelivered'>): Promise<boolean> {
    const outcomes: Promise<boolean>[] = [];
    for (const row of poll.undelivered) {
      const key = `${target.sessionId}\u0000${row.id}`;
      const onItsWay = this.inFlight.get(key);
      if (onItsWay !== undefined) {
        outcomes.push(onItsWay);
        continue;
      }
      let settle!: (recorded: boolean) => void;
      const outcome = new Promise<boolean>((resolve) => (settle = resolve));
      this.inFlight.set(key, outcome);
      outcomes.push(outcome);
      const done = (recorded: boolean) => {
        this.inFlight.delete(key);
        settle(recorded);
      };
      const tail = (this.chains.get(target.sessionId) ?? Promise.resolve()).then(() =>
        this.deliver(target, row).then(
          ({ recorded }) => {
            void recorded.then(done);
          },
          () => done(false),
        ),
      );
      this.chains.set(target.sessionId, tail);
      void tail.finally(() => {
        if (this.chains.get(target.sessionId) === tail) this.chains.delete(target.sessionId);
      });
    }
    return Promise.all(outcomes).then((all) => all.every(Boolean));
  }

  /**
   * Deliveries not yet recorded that are working now: one waiting for its backoff timer is not
   * counted (the timer is the clock's to fire; `whenIdle` resolves while it is ahead).
   */
  get pending(): number {
    return this.inFlight.size - this.timers.size;
  }

  cancel(): void {
    for (const t of this.timers) this.deps.clock.clearTimeout(t);
    this.timers.clear();
  }

  /**
   * Delivers one row; resolves once the next row may go (its record is queued), with the promise
   * of the record itself (wrapped: an async function would wait for a promise it returns).
   */
  private async deliver(target: DeliveryTarget, row: OutboundRow): Promise<{ recorded: Promise<boolean> }> {
    const { deps } = this;
    const { sessionId } = target;
    const messageId = row.id;
    const record = (status: 'delivered' | 'failed', platformMessageId: string | null, error: string | null) =>
      target.request<boolean>({
        kind: 'recordDelivery',
        record: { messageOutId: messageId, platformMessageId, status, deliveredAt: deps.recordedAt(), error },
        origin: row.origin,
      });
    const bookkeeping = (p: Promise<unknown>, then: () => void): { recorded: Promise<boolean> } => ({
      recorded: p.then(
        () => {
          try {
            then();
          } catch (error) {
            // The outcome is recorded whatever a listener does with the news of it.
            deps.logger.error({ sessionId, messageId, error }, 'delivery listener failed');
          }
          return true;
        },
        (error: unknown) => {
          deps.logger.error({ sessionId, messageId, error }, 'delivery bookkeeping failed');
          return false;
        },
      ),
    });
    try {
      const content = parseContent(row.content);
      const route = target.route(row);
      if (route.kind === 'refuse') {
        const error = new Error(route.reason);
        deps.logger.warn({ sessionId, messageId, reason: route.reason }, 'outbound message refused');
        return bookkeeping(record('failed', null, route.reason), () =>
          deps.onFailed({ sessionId, messageId, error }, row),
        );
      }
      if (route.kind === 'host') {
        // For the host to act on (NanoClaw handles these in the host): at least once, then recorded.
        deps.onSystem({ sessionId, messageId, content });
        return bookkeeping(record('delivered', null, null), () => undefined);
      }
      const names = declaredFiles(content);
      let files: OutboundDelivery['files'];
      if (names.length > 0) {
        const read = await target.request<OutboxRead>({ kind: 'readOutboxChecked', messageId, filenames: names });
        for (const r of read.refused) deps.onViolation(sessionId, r.violation);
        files = read.files;
      }
      const msg: OutboundDelivery = {
        sessionId,
        messageId,
        kind: row.kind,
        channelType: route.address.channelType,
        platformId: route.address.platformId,
        threadId: route.address.threadId,
        content,
        ...(files !== undefined ? { files } : {}),
      };
      const outcome = await this.attempt(route.adapter, msg);
      if (!outcome.ok) {
        return bookkeeping(record('failed', null, outcome.error.message), () =>
          deps.onFailed({ sessionId, messageId, error: outcome.error }, row),
        );
      }
      const recorded = record('delivered', outcome.platformMessageId, null);
      if (names.length > 0) {
        // After the record: a failed removal is logged by clearOutbox and never matters to delivery.
        void recorded.then(() => target.request({ kind: 'clearOutbox', messageId })).catch(() => undefined);
      }
      return bookkeeping(recorded, () =>
        deps.onDelivered({ sessionId, messageId, platformMessageId: outcome.platformMessageId }, row),
      );
    } catch (error) {
      deps.logger.error({ sessionId, messageId, error }, 'delivery bookkeeping failed');
      return { recorded: Promise.resolve(false) };
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
