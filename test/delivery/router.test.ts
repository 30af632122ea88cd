/**
 * `routeRow` and `adapterLookup` alone: where one outbound row goes, given the session's default
 * address, its agent group's destinations and the adapters (issue 10 items 2 and 3). The runtime
 * tests (test/runtime/delivery-rules.test.ts, destinations.test.ts) show the same rules end to end.
 */
import { describe, expect, it } from 'vitest';
import { adapterLookup, routeRow, type RouteContext } from '../../src/delivery/router.js';
import type { OutboundRow } from '../../src/runtime/ops/types.js';
import type { ChannelAdapter } from '../../src/runtime/types.js';
import { recordingChannels } from '../../src/testing/index.js';

const adapter = (name: string): ChannelAdapter & { name: string } => ({
  name,
  deliver: async () => ({ platformMessageId: name }),
});
const slack = adapter('slack');
const discord = adapter('discord');
const fallback = adapter('console');

function row(fields: Partial<OutboundRow>): OutboundRow {
  return {
    id: 'out-1',
    seq: 1,
    in_reply_to: null,
    timestamp: '2026-01-01 00:00:00',
    deliver_after: null,
    kind: 'chat',
    platform_id: null,
    channel_type: null,
    thread_id: null,
    content: '{}',
    origin: 'container',
    ...fields,
  };
}

/** Destinations: slack/C1 (the session's own) and discord/D1. */
const ctx: RouteContext = {
  defaults: { channelType: 'slack', platformId: 'C1', threadId: 'default-thread' },
  isDestination: (channelType, platformId) =>
    (channelType === 'slack' && platformId === 'C1') || (channelType === 'discord' && platformId === 'D1'),
  adapterFor: adapterLookup({ slack, discord }, fallback),
};

describe('adapterLookup', () => {
  it('without a table, the fallback answers every channel type', () => {
    const lookup = adapterLookup(undefined, fallback);
    for (const type of ['slack', 'slak', '__proto__', 'constructor', null]) expect(lookup(type)).toBe(fallback);
  });

  it('with a table, only its own properties are adapters: a typo and the names of Object.prototype are none', () => {
    const lookup = adapterLookup({ slack }, fallback);
    expect(lookup('slack')).toBe(slack);
    for (const type of ['slak', 'Slack', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', null]) {
      expect(lookup(type)).toBeUndefined();
    }
  });

  it('an inherited adapter or a value that is no adapter is none', () => {
    const inherited = Object.create({ slack }) as Record<string, ChannelAdapter>;
    expect(adapterLookup(inherited, fallback)('slack')).toBeUndefined();
    const broken = { teams: {}, irc: null, sms: { deliver: 'yes' } } as unknown as Record<string, ChannelAdapter>;
    for (const type of ['teams', 'irc', 'sms']) expect(adapterLookup(broken, fallback)(type)).toBeUndefined();
  });

  it("a null-prototype table and the test kit's recording proxy both work, `__proto__` included", () => {
    const bare = Object.create(null) as Record<string, ChannelAdapter>;
    bare['__proto__'] = slack;
    expect(Object.hasOwn(bare, '__proto__')).toBe(true);
    expect(adapterLookup(bare, fallback)('__proto__')).toBe(slack);
    const recording = recordingChannels();
    const lookup = adapterLookup(recording.adapters, fallback);
    expect(lookup('anything')).toBe(recording.adapters.anything);
    expect(lookup('__proto__')).toBe(recording.adapters['__proto__']);
  });
});

describe('routeRow', () => {
  it('a system row goes to the host, whatever its address', () => {
    expect(routeRow(row({ kind: 'system' }), ctx)).toEqual({ kind: 'host' });
    expect(routeRow(row({ kind: 'system', channel_type: 'slak', platform_id: 'nowhere' }), ctx)).toEqual({
      kind: 'host',
    });
  });

  it('a row addressed to a destination goes to the adapter of its own channel type, with its own thread', () => {
    expect(routeRow(row({ channel_type: 'discord', platform_id: 'D1', thread_id: 't9' }), ctx)).toEqual({
      kind: 'channel',
      adapter: discord,
      address: { channelType: 'discord', platformId: 'D1', threadId: 't9' },
    });
  });

  it('a row with no address of its own takes the session default', () => {
    expect(routeRow(row({}), ctx)).toEqual({
      kind: 'channel',
      adapter: slack,
      address: { channelType: 'slack', platformId: 'C1', threadId: 'default-thread' },
    });
  });

  it('a container row addressed to anything but a destination is refused as an unknown destination', () => {
    for (const [channel_type, platform_id] of [
      ['slack', 'C2'],
      ['discord', 'C1'],
      ['slack', null],
      [null, 'C1'],
    ] as const) {
      const route = routeRow(row({ channel_type, platform_id }), ctx);
      expect(route).toMatchObject({ kind: 'refuse', reason: expect.stringContaining('unknown destination') });
    }
    const noDefaults = routeRow(row({}), { ...ctx, defaults: null });
    expect(noDefaults).toMatchObject({ kind: 'refuse', reason: expect.stringContaining('unknown destination') });
  });

  it('a destination whose channel type has no adapter is refused as such', () => {
    const typo: RouteContext = { ...ctx, isDestination: () => true };
    expect(routeRow(row({ channel_type: 'slak', platform_id: 'C1' }), typo)).toMatchObject({
      kind: 'refuse',
      reason: 'no adapter for channel type slak',
    });
  });

  it("a host-originated row is the orchestrator's own: not checked against destinations, but still needs an adapter", () => {
    expect(routeRow(row({ origin: 'host', channel_type: 'slack', platform_id: 'C-other' }), ctx)).toMatchObject({
      kind: 'channel',
      adapter: slack,
      address: { platformId: 'C-other' },
    });
    expect(routeRow(row({ origin: 'host', channel_type: 'slak', platform_id: 'C1' }), ctx)).toMatchObject({
      kind: 'refuse',
      reason: 'no adapter for channel type slak',
    });
  });
});
