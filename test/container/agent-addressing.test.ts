/**
 * Reply addressing of the reference agent: each reply goes to the channel and platform of the
 * message it answers, in the newest thread seen from there; `session_routing` only for messages
 * with no address. Pure rules first, then the real agent process on a real session folder.
 */
import { describe, expect, it } from 'vitest';
import {
  NO_ADDRESS,
  originName,
  replyAddress,
  type Address,
  type DestinationRow,
} from '../../src/container/agent/addressing.js';
import { insertMessageIn, replaceDestinations, type Destination, type NewInboundRow } from '../../src/store/inbound.js';
import { withInbound } from '../../src/store/session-db.js';
import { useAgentSessions, waitFor, type OutRow, type TestSession } from './helpers.js';

const { session, start } = useAgentSessions();

const address = (channel_type: string | null, platform_id: string | null, thread_id: string | null): Address => ({
  channel_type,
  platform_id,
  thread_id,
});

describe('replyAddress', () => {
  const routing = address('github', 'acme/api', null);

  it("answers at the row's channel and platform, in the newest thread looked up for them", () => {
    const asked: string[] = [];
    const threadOf = (ct: string, pid: string) => {
      asked.push(`${ct} ${pid}`);
      return pid === 'acme/api' ? 'pr-8' : 'pr-9';
    };
    expect(replyAddress(address('github', 'acme/api', 'pr-7'), threadOf, routing)).toEqual(
      address('github', 'acme/api', 'pr-8'),
    );
    expect(replyAddress(address('github', 'acme/web', 'pr-9'), threadOf, routing)).toEqual(
      address('github', 'acme/web', 'pr-9'),
    );
    expect(asked).toEqual(['github acme/api', 'github acme/web']);
  });

  it('keeps a newest thread of NULL, and the row thread only when no row was found', () => {
    expect(replyAddress(address('slack', 'C1', 'T1'), () => null, routing)).toEqual(address('slack', 'C1', null));
    expect(replyAddress(address('slack', 'C1', 'T1'), () => undefined, routing)).toEqual(address('slack', 'C1', 'T1'));
  });

  it('sends a row without channel_type or platform_id to session_routing, or nowhere without one', () => {
    const never = () => {
      throw new Error('no lookup for an unaddressed row');
    };
    for (const row of [NO_ADDRESS, address('slack', null, 'T'), address(null, 'C1', 'T')]) {
      expect(replyAddress(row, never, routing)).toEqual(routing);
      expect(replyAddress(row, never, undefined)).toEqual(NO_ADDRESS);
    }
  });
});

describe('originName', () => {
  const destinations: DestinationRow[] = [
    { name: 'acme-api', type: 'channel', channel_type: 'github', platform_id: 'acme/api', agent_group_id: null },
    { name: 'helper', type: 'agent', channel_type: null, platform_id: null, agent_group_id: 'ag-helper' },
  ];

  it('names the destination a row came from, unknown ones by address, unaddressed ones not at all', () => {
    expect(originName(address('github', 'acme/api', 'pr-7'), destinations)).toBe('acme-api');
    expect(originName(address('agent', 'ag-helper', null), destinations)).toBe('helper');
    expect(originName(address('github', 'acme/web', null), destinations)).toBe('unknown:github:acme/web');
    expect(originName(address('agent', 'acme/api', null), destinations)).toBe('unknown:agent:acme/api');
    expect(originName(NO_ADDRESS, destinations)).toBeNull();
  });
});

/** The session as the host writes an agent-shared one: routing to the anchor, no thread. */
function agentShared(): TestSession {
  const s = session({ routing: { channelType: 'github', platformId: 'acme/api', threadId: null } });
  const channel = (name: string, platformId: string): Destination => ({
    name,
    displayName: name,
    type: 'channel',
    channelType: 'github',
    platformId,
    agentGroupId: null,
  });
  withInbound(s.ctx.inboundDbPath, (db) =>
    replaceDestinations(db, [channel('acme-api', 'acme/api'), channel('acme-web', 'acme/web')]),
  );
  return s;
}

const text = (value: string) => JSON.stringify({ text: value });

/** Writes rows in one inbound transaction, so a running agent sees them in one poll. */
function writeTogether(s: TestSession, rows: (Partial<NewInboundRow> & { id: string; content: string })[]): void {
  withInbound(s.ctx.inboundDbPath, (db) => {
    for (const row of rows) insertMessageIn(db, { kind: 'chat', timestamp: new Date().toISOString(), ...row });
  });
}
const gh = (id: string, platformId: string, threadId: string) => ({
  id,
  content: text(id),
  channelType: 'github',
  platformId,
  threadId,
});
const where = (rows: OutRow[]) => rows.map((r) => [r.in_reply_to, r.channel_type, r.platform_id, r.thread_id]);

describe('reference agent reply addressing', () => {
  it('replies carry exactly the addresses they came from: acme/api pr-7 and acme/web pr-9, one batch', async () => {
    const s = agentShared();
    s.write({ id: 'api-1', content: text('PR 7'), channelType: 'github', platformId: 'acme/api', threadId: 'pr-7' });
    s.write({ id: 'web-1', content: text('PR 9'), channelType: 'github', platformId: 'acme/web', threadId: 'pr-9' });
    const { lines } = await start(s);
    const out = await waitFor(() => s.outbound().length === 2 && s.outbound(), 'two replies');
    expect(where(out)).toEqual([
      ['api-1', 'github', 'acme/api', 'pr-7'],
      ['web-1', 'github', 'acme/web', 'pr-9'],
    ]);
    // One claim for both, each message shown with the destination it came from. Log lines travel
    // through a pipe: wait for the turn's last line, which follows its claim line.
    await waitFor(() => lines.some((l) => l.includes('answered')), 'turn logged');
    expect(lines.filter((l) => l.includes('claimed'))).toEqual([
      expect.stringContaining('claimed api-1 (from acme-api), web-1 (from acme-web)'),
    ]);
  });

  it("a later message from the same platform with a newer thread moves that platform's replies there", async () => {
    const s = agentShared();
    s.write({ id: 'api-1', content: text('a'), channelType: 'github', platformId: 'acme/api', threadId: 'pr-7' });
    const { lines } = await start(s);
    await waitFor(() => s.outbound().length === 1, 'first reply');

    // One batch in which acme/api's newest thread is pr-8: api-2 (asked in pr-7) is answered there too.
    writeTogether(s, [
      gh('api-2', 'acme/api', 'pr-7'),
      gh('web-1', 'acme/web', 'pr-9'),
      gh('api-3', 'acme/api', 'pr-8'),
    ]);
    const out = await waitFor(() => s.outbound().length === 4 && s.outbound(), 'four replies');
    expect(where(out)).toEqual([
      ['api-1', 'github', 'acme/api', 'pr-7'],
      ['api-2', 'github', 'acme/api', 'pr-8'],
      ['web-1', 'github', 'acme/web', 'pr-9'],
      ['api-3', 'github', 'acme/api', 'pr-8'],
    ]);
    await waitFor(() => lines.filter((l) => l.includes('answered')).length === 2, 'two turns logged');
    expect(lines.filter((l) => l.includes('claimed'))).toHaveLength(2);
  });

  it('a message with no address goes to session_routing, next to addressed ones', async () => {
    const s = agentShared();
    s.write({ id: 'web-1', content: text('a'), channelType: 'github', platformId: 'acme/web', threadId: 'pr-9' });
    s.write({ id: 'bare', content: text('b') });
    await start(s);
    const out = await waitFor(() => s.outbound().length === 2 && s.outbound(), 'two replies');
    expect(where(out)).toEqual([
      ['web-1', 'github', 'acme/web', 'pr-9'],
      ['bare', 'github', 'acme/api', null],
    ]);
  });
});
