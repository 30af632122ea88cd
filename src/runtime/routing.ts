/**
 * What a session's `session_routing` and `destinations` rows say, derived from the central DB
 * (FORMAT.md "inbound.db"): the default address of output that answers no message, and the
 * destinations the agent may write to.
 */
import { getMessagingGroup, type SessionRow } from '../store/central.js';
import type { Destination, Routing } from '../store/inbound.js';
import type { Db } from '../store/session-db.js';

export interface RoutingRows {
  routing: Routing;
  destinations: Destination[];
}

export function routingRowsFor(central: Db, row: SessionRow): RoutingRows {
  const mg = row.messaging_group_id ? getMessagingGroup(central, row.messaging_group_id) : undefined;
  return {
    routing: { channelType: mg?.channel_type ?? null, platformId: mg?.platform_id ?? null, threadId: row.thread_id },
    destinations: mg
      ? [
          {
            name: mg.name ?? mg.id,
            displayName: mg.name,
            type: 'channel',
            channelType: mg.channel_type,
            platformId: mg.platform_id,
            agentGroupId: null,
          },
        ]
      : [],
  };
}
