/**
 * Where an outbound row goes (API.md "Delivery"; NanoClaw's delivery rules).
 *
 * Invariants (guarded by test/delivery/router.test.ts):
 * 1. `kind: 'system'` rows are for the host, never a channel: they go to `system.message`.
 * 2. A row goes to the adapter of its own `channel_type`, looked up by own property only
 *    (`__proto__`, `constructor` are unknown types); with `channels` given, a type without an
 *    adapter is refused, never printed nor recorded delivered. The console adapter stands in only
 *    when no `channels` were given at all.
 * 3. A container's row must be addressed to one of its agent group's destinations (every
 *    messaging group that reached the group through resolution); a row addressed elsewhere is
 *    refused ("unknown destination"). Host-originated rows (`writeOutboundDirect`) are the
 *    orchestrator's own and are not checked.
 * 4. A row with no address of its own takes the session's default (`session_routing`).
 */
import type { OutboundRow } from '../runtime/ops/types.js';
import type { ChannelAdapter } from '../runtime/types.js';

export interface Address {
  channelType: string | null;
  platformId: string | null;
  threadId: string | null;
}

export type Route =
  | { kind: 'host' }
  | { kind: 'channel'; adapter: ChannelAdapter; address: Address }
  | { kind: 'refuse'; reason: string; address: Address };

export interface RouteContext {
  /** The session's default address (its messaging group and thread), if it has one. */
  defaults: Address | null;
  /** Is (channelType, platformId) one of the session's agent group's destinations? */
  isDestination(channelType: string, platformId: string): boolean;
  /** The adapter for a channel type, or undefined when there is none. */
  adapterFor(channelType: string | null): ChannelAdapter | undefined;
}

/** The adapter table as a lookup by own property; without a table, `fallback` for every type. */
export function adapterLookup(
  channels: Record<string, ChannelAdapter> | undefined,
  fallback: ChannelAdapter,
): (channelType: string | null) => ChannelAdapter | undefined {
  if (channels === undefined) return () => fallback;
  return (channelType) => {
    if (channelType === null || !Object.hasOwn(channels, channelType)) return undefined;
    const adapter = channels[channelType];
    return typeof adapter === 'object' && adapter !== null && typeof adapter.deliver === 'function'
      ? adapter
      : undefined;
  };
}

export function routeRow(row: OutboundRow, ctx: RouteContext): Route {
  if (row.kind === 'system') return { kind: 'host' };
  const own = row.channel_type !== null || row.platform_id !== null;
  const address: Address = own
    ? { channelType: row.channel_type, platformId: row.platform_id, threadId: row.thread_id }
    : (ctx.defaults ?? { channelType: null, platformId: null, threadId: null });
  if (row.origin === 'container') {
    const { channelType, platformId } = address;
    if (channelType === null || platformId === null || !ctx.isDestination(channelType, platformId)) {
      return {
        kind: 'refuse',
        reason: `unknown destination ${String(channelType)}/${String(platformId)}`,
        address,
      };
    }
  }
  const adapter = ctx.adapterFor(address.channelType);
  if (adapter === undefined) {
    return { kind: 'refuse', reason: `no adapter for channel type ${String(address.channelType)}`, address };
  }
  return { kind: 'channel', adapter, address };
}
