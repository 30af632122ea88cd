/**
 * What a session's `session_routing` and `destinations` rows say, derived from the central DB
 * (FORMAT.md "inbound.db"), rewritten on every wake:
 *
 * - `session_routing`: the default address of output that answers no message — the session's
 *   messaging group (`channel_type`, `platform_id`) and its thread;
 * - `destinations`: every messaging group wired to the session's agent group (each that reached it
 *   through resolution, in any mode), with NanoClaw's naming: `name` the local name, unique in the
 *   group; `display_name` the messaging group's name or else the local name; `type` `channel`
 *   (test/runtime/destinations.test.ts). The session's own messaging group is always among them,
 *   also for a session resolved before destinations were recorded (NanoClaw's, an older one of
 *   ours: test/runtime/nanoclaw-migration.test.ts).
 */
import { getMessagingGroup, type SessionRow } from '../store/central.js';
import { destinationsOf, recordOwnDestination } from '../store/central-work.js';
import type { Destination, Routing } from '../store/inbound.js';
import type { Db } from '../store/session-db.js';

export interface RoutingRows {
  routing: Routing;
  destinations: Destination[];
}

export function routingRowsFor(central: Db, row: SessionRow): RoutingRows {
  const mg = row.messaging_group_id ? getMessagingGroup(central, row.messaging_group_id) : undefined;
  recordOwnDestination(central, row);
  return {
    routing: { channelType: mg?.channel_type ?? null, platformId: mg?.platform_id ?? null, threadId: row.thread_id },
    destinations: destinationsOf(central, row.agent_group_id).map((d): Destination => ({
      name: d.local_name,
      displayName: d.name ?? d.local_name,
      type: 'channel',
      channelType: d.channel_type,
      platformId: d.platform_id,
      agentGroupId: null,
    })),
  };
}
