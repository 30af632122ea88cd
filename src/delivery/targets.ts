/**
 * The delivery side of a session: where its rows may go (its agent group's destinations, its
 * default address) and the mailbox that records the outcomes. Built from the central DB per poll;
 * destinations are cached per agent group and re-read when a row names one not cached yet (a
 * messaging group may have reached the group since).
 */
import { getMessagingGroup, getSession } from '../store/central.js';
import { destinationsOf, recordOwnDestination } from '../store/central-work.js';
import type { Db } from '../store/session-db.js';
import type { SessionOp } from '../runtime/ops/types.js';
import type { ChannelAdapter } from '../runtime/types.js';
import type { DeliveryTarget } from './deliverer.js';
import { routeRow, type Address } from './router.js';

export interface DeliveryTargetsDeps {
  central: Db;
  adapterFor(channelType: string | null): ChannelAdapter | undefined;
  /** Sends an operation to the session's live actor (re-activating it if it was dropped). */
  request<T>(sessionId: string, op: SessionOp): Promise<T>;
}

export class DeliveryTargets {
  private readonly destinations = new Map<string, Set<string>>();

  constructor(private readonly deps: DeliveryTargetsDeps) {}

  for(sessionId: string): DeliveryTarget {
    const { central } = this.deps;
    const row = getSession(central, sessionId);
    // A session resolved before destinations were recorded still answers its own messaging group.
    if (row !== undefined) recordOwnDestination(central, row);
    const mg = row?.messaging_group_id ? getMessagingGroup(central, row.messaging_group_id) : undefined;
    const defaults: Address | null =
      mg === undefined
        ? null
        : { channelType: mg.channel_type, platformId: mg.platform_id, threadId: row?.thread_id ?? null };
    const agentGroupId = row?.agent_group_id ?? '';
    const ctx = {
      defaults,
      isDestination: (channelType: string, platformId: string) =>
        this.isDestination(agentGroupId, channelType, platformId),
      adapterFor: this.deps.adapterFor,
    };
    return {
      sessionId,
      route: (r) => routeRow(r, ctx),
      request: (op) => this.deps.request(sessionId, op),
    };
  }

  private isDestination(agentGroupId: string, channelType: string, platformId: string): boolean {
    const key = `${channelType}\u0000${platformId}`;
    if (this.destinations.get(agentGroupId)?.has(key) === true) return true;
    const fresh = new Set(
      destinationsOf(this.deps.central, agentGroupId).map((d) => `${d.channel_type}\u0000${d.platform_id}`),
    );
    this.destinations.set(agentGroupId, fresh);
    return fresh.has(key);
  }
}
