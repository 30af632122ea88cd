/**
 * `recordingChannels()`: channel adapters that keep what they are given, for assertions.
 *
 * Invariants (test/testing/recording-channels.test.ts):
 * 1. Every channel type has an adapter, created on first use (the runtime looks channel types up
 *    as own properties; `adapters` answers for any string key). Given `channelTypes`, only those
 *    have one: `adapters` is then a plain object, as an orchestrator's configuration is ("only
 *    the channel types it is given").
 * 2. A delivery is recorded in `delivered` only when the adapter returned; a thrown attempt is
 *    recorded in `failed` with its error. Both keep arrival order, per channel type and overall.
 * 3. Platform message ids are deterministic: `<channelType>-<n>`, n counting per channel type.
 */
import type { ChannelAdapter, OutboundDelivery } from '../runtime/types.js';

export interface FailedDelivery {
  delivery: OutboundDelivery;
  error: Error;
}

/** What one channel type received. */
export interface RecordedChannel {
  readonly channelType: string;
  /** Deliveries the adapter accepted, in order. */
  readonly delivered: OutboundDelivery[];
  /** Delivery attempts the adapter refused (see `failNext`), in order. */
  readonly failed: FailedDelivery[];
  /** Makes the next `times` deliveries to this channel throw `error` (default: one, "delivery refused"). */
  failNext(times?: number, error?: Error): void;
}

export interface RecordingChannels {
  /** Pass this as the runtime's `channels`: an adapter for every channel type. */
  readonly adapters: Record<string, ChannelAdapter>;
  /** Every accepted delivery, all channel types, in order. */
  readonly delivered: OutboundDelivery[];
  /** Every refused attempt, all channel types, in order. */
  readonly failed: FailedDelivery[];
  /** The record of one channel type (created empty if nothing reached it yet). */
  channel(channelType: string): RecordedChannel;
}

/**
 * Recording adapters for every channel type, or only for `channelTypes` (a delivery to any other
 * type then fails with "no adapter", as with a misspelt type in a real configuration).
 */
export function recordingChannels(channelTypes?: readonly string[]): RecordingChannels {
  const delivered: OutboundDelivery[] = [];
  const failed: FailedDelivery[] = [];
  const channels = new Map<string, RecordedChannel & { adapter: ChannelAdapter }>();

  const channel = (channelType: string) => {
    let record = channels.get(channelType);
    if (record !== undefined) return record;
    const refusals: Error[] = [];
    let count = 0;
    const own: RecordedChannel & { adapter: ChannelAdapter } = {
      channelType,
      delivered: [],
      failed: [],
      failNext(times = 1, error = new Error(`delivery to ${channelType} refused`)) {
        for (let i = 0; i < times; i++) refusals.push(error);
      },
      adapter: {
        async deliver(msg) {
          const refusal = refusals.shift();
          if (refusal !== undefined) {
            const entry = { delivery: msg, error: refusal };
            own.failed.push(entry);
            failed.push(entry);
            throw refusal;
          }
          own.delivered.push(msg);
          delivered.push(msg);
          return { platformMessageId: `${channelType}-${++count}` };
        },
      },
    };
    channels.set(channelType, own);
    record = own;
    return record;
  };

  if (channelTypes !== undefined) {
    // An ordinary object, as a configuration is: the runtime must not find `constructor` on it.
    const adapters: Record<string, ChannelAdapter> = {};
    for (const type of channelTypes) {
      Object.defineProperty(adapters, type, { value: channel(type).adapter, enumerable: true });
    }
    return { adapters, delivered, failed, channel };
  }

  // A null-prototype target: `__proto__` and friends are ordinary channel types here.
  const adapters = new Proxy(Object.create(null) as Record<string, ChannelAdapter>, {
    get: (target, key) => (typeof key === 'string' ? channel(key).adapter : Reflect.get(target, key)),
    has: (target, key) => typeof key === 'string' || Reflect.has(target, key),
    getOwnPropertyDescriptor(target, key) {
      if (typeof key === 'string' && !Object.hasOwn(target, key)) {
        Object.defineProperty(target, key, {
          value: channel(key).adapter,
          enumerable: true,
          configurable: true,
          writable: false,
        });
      }
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
  });

  return {
    adapters,
    delivered,
    failed,
    channel,
  };
}
