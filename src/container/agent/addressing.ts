/**
 * Addresses of the reference agent's messages: where an inbound row came from (as a local
 * destination name) and where the reply to it goes (FORMAT.md, `session_routing` and
 * `destinations`).
 *
 * Invariants (guards in test/container/agent-addressing.test.ts):
 * 1. A row with both `channel_type` and `platform_id` is answered at that channel and platform,
 *    never at `session_routing` ("replies carry exactly the addresses they came from").
 * 2. The reply's thread is the `thread_id` of the NEWEST `messages_in` row (highest seq) of that
 *    channel and platform: in an agent-shared session each destination has its own thread, and a
 *    later message from a platform in another thread moves that platform's replies there
 *    ("a later message from the same platform with a newer thread moves …").
 * 3. A row without an address (either field NULL) is answered at `session_routing`, or with no
 *    address at all when the session has none ("a message with no address …").
 */
import type Database from 'better-sqlite3';

/** A destination as three columns, spelled as in both session DBs. */
export interface Address {
  channel_type: string | null;
  platform_id: string | null;
  thread_id: string | null;
}

export const NO_ADDRESS: Address = { channel_type: null, platform_id: null, thread_id: null };

/** A `destinations` row (FORMAT.md): a local name for a channel or an agent group. */
export interface DestinationRow {
  name: string;
  type: string;
  channel_type: string | null;
  platform_id: string | null;
  agent_group_id: string | null;
}

export function readDestinations(db: Database.Database): DestinationRow[] {
  return db
    .prepare('SELECT name, type, channel_type, platform_id, agent_group_id FROM destinations ORDER BY name')
    .all() as DestinationRow[];
}

/** The `thread_id` of the newest row from this channel and platform; undefined when there is none. */
export function newestThread(
  db: Database.Database,
  channelType: string,
  platformId: string,
): string | null | undefined {
  const row = db
    .prepare(
      `SELECT thread_id FROM messages_in WHERE channel_type = ? AND platform_id = ?
       ORDER BY seq DESC LIMIT 1`,
    )
    .get(channelType, platformId) as { thread_id: string | null } | undefined;
  return row?.thread_id;
}

/**
 * Where the reply to `row` goes. `threadOf` looks up the newest thread of a channel and platform
 * (`newestThread` on an open `inbound.db`); `routing` is the session's `session_routing` row.
 */
export function replyAddress(
  row: Address,
  threadOf: (channelType: string, platformId: string) => string | null | undefined,
  routing: Address | undefined,
): Address {
  const { channel_type, platform_id } = row;
  if (channel_type === null || platform_id === null) return routing ?? NO_ADDRESS;
  const newest = threadOf(channel_type, platform_id);
  return { channel_type, platform_id, thread_id: newest === undefined ? row.thread_id : newest };
}

/**
 * How the agent names where `row` came from: the local name of its destination, or
 * `unknown:<channel_type>:<platform_id>` when the session's `destinations` do not list it, or
 * null for a row with no address. A `channel_type` of `agent` names an agent group by id.
 */
export function originName(row: Address, destinations: readonly DestinationRow[]): string | null {
  const { channel_type, platform_id } = row;
  if (channel_type === null || platform_id === null) return null;
  const found = destinations.find((d) =>
    channel_type === 'agent'
      ? d.type === 'agent' && d.agent_group_id === platform_id
      : d.type === 'channel' && d.channel_type === channel_type && d.platform_id === platform_id,
  );
  return found?.name ?? `unknown:${channel_type}:${platform_id}`;
}
