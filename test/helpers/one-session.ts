import type { Runtime, SessionInfo, SessionMode } from '../../src/index.js';

/**
 * The set-up most runtime tests share: agent group `ag`, messaging group `mg` on
 * `channelType`/`platformId`, and the session one resolution of them gives (shared by default).
 */
export async function oneSession(
  rt: Runtime,
  options: { channelType: string; platformId: string; threadId?: string | null; mode?: SessionMode },
): Promise<SessionInfo> {
  await rt.upsertAgentGroup({ id: 'ag', name: 'Agent' });
  await rt.upsertMessagingGroup({ id: 'mg', channelType: options.channelType, platformId: options.platformId });
  const { session } = await rt.resolveSession({
    agentGroupId: 'ag',
    messagingGroupId: 'mg',
    threadId: options.threadId ?? null,
    mode: options.mode ?? 'shared',
  });
  return session;
}
