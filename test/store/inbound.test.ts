import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  deliveredIds,
  findMessageIn,
  insertMessageIn,
  insertMessageInIfNew,
  listMessagesIn,
  readRouting,
  recordDelivery,
  replaceDestinations,
  writeRouting,
  type Destination,
} from '../../src/store/inbound.js';
import { createSessionDbs, readInbound, withInbound } from '../../src/store/session-db.js';
import { makeTempDir, peek } from './helpers.js';

const NOW = '2024-05-01T12:00:00.000Z';

let dir: string;
let cleanup: () => void;
let inboundPath: string;

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('store-inbound'));
  inboundPath = join(dir, 'inbound.db');
  createSessionDbs(inboundPath, join(dir, 'outbound.db'));
});

afterEach(() => {
  cleanup();
});

function rawRows(table: string): unknown[] {
  return peek(inboundPath, (db) => db.prepare(`SELECT * FROM ${table}`).all());
}

describe('insertMessageIn', () => {
  it('writes a pending row with tries 0, trigger 1, on_wake 0 and series_id = id by default', () => {
    withInbound(inboundPath, (db) =>
      insertMessageIn(db, { id: 'm-1', kind: 'chat', timestamp: NOW, content: '{"text":"hi"}' }),
    );

    expect(rawRows('messages_in')).toEqual([
      {
        id: 'm-1',
        seq: 2,
        kind: 'chat',
        timestamp: NOW,
        status: 'pending',
        process_after: null,
        recurrence: null,
        series_id: 'm-1',
        tries: 0,
        trigger: 1,
        platform_id: null,
        channel_type: null,
        thread_id: null,
        content: '{"text":"hi"}',
        source_session_id: null,
        on_wake: 0,
      },
    ]);
  });

  it('stores every optional field it is given', () => {
    withInbound(inboundPath, (db) =>
      insertMessageIn(db, {
        id: 'm-2',
        kind: 'task',
        timestamp: NOW,
        content: '{"prompt":"p"}',
        processAfter: '2024-05-02 09:00:00',
        recurrence: '0 9 * * *',
        seriesId: 'series-1',
        trigger: 0,
        platformId: 'C1',
        channelType: 'slack',
        threadId: 't-1',
        sourceSessionId: 'sess-other',
        onWake: 1,
      }),
    );

    const row = readInbound(inboundPath, (db) => findMessageIn(db, 'm-2'));
    expect(row).toMatchObject({
      status: 'pending',
      tries: 0,
      process_after: '2024-05-02 09:00:00',
      recurrence: '0 9 * * *',
      series_id: 'series-1',
      trigger: 0,
      platform_id: 'C1',
      channel_type: 'slack',
      thread_id: 't-1',
      source_session_id: 'sess-other',
      on_wake: 1,
    });
  });

  it('refuses a second row with the same id and keeps the first', () => {
    withInbound(inboundPath, (db) => insertMessageIn(db, { id: 'm-1', kind: 'chat', timestamp: NOW, content: '1' }));
    expect(() =>
      withInbound(inboundPath, (db) => insertMessageIn(db, { id: 'm-1', kind: 'chat', timestamp: NOW, content: '2' })),
    ).toThrow(/already holds m-1/);
    expect(readInbound(inboundPath, (db) => listMessagesIn(db))).toEqual([
      expect.objectContaining({ id: 'm-1', seq: 2, content: '1' }),
    ]);
  });

  it('insertMessageInIfNew writes nothing for a known id and says so', () => {
    withInbound(inboundPath, (db) => insertMessageIn(db, { id: 'm-1', kind: 'chat', timestamp: NOW, content: '1' }));
    const second = withInbound(inboundPath, (db) =>
      insertMessageInIfNew(db, { id: 'm-1', kind: 'chat', timestamp: NOW, content: '2' }),
    );
    expect(second).toBeUndefined();
    const third = withInbound(inboundPath, (db) =>
      insertMessageInIfNew(db, { id: 'm-2', kind: 'chat', timestamp: NOW, content: '3' }),
    );
    expect(third).toBe(4);
    expect(readInbound(inboundPath, (db) => listMessagesIn(db)).map((r) => [r.id, r.seq, r.content])).toEqual([
      ['m-1', 2, '1'],
      ['m-2', 4, '3'],
    ]);
  });

  it('lists messages in seq order and finds none for an unknown id', () => {
    withInbound(inboundPath, (db) => {
      for (const id of ['b', 'a', 'c']) insertMessageIn(db, { id, kind: 'chat', timestamp: NOW, content: '{}' });
    });
    readInbound(inboundPath, (db) => {
      expect(listMessagesIn(db).map((r) => [r.id, r.seq])).toEqual([
        ['b', 2],
        ['a', 4],
        ['c', 6],
      ]);
      expect(findMessageIn(db, 'missing')).toBeUndefined();
    });
  });
});

describe('recordDelivery', () => {
  it('records a delivery once: the second call returns false and the first record is kept', () => {
    const first = withInbound(inboundPath, (db) =>
      recordDelivery(db, { messageOutId: 'o-1', platformMessageId: 'p-1', status: 'delivered', deliveredAt: NOW }),
    );
    const second = withInbound(inboundPath, (db) =>
      recordDelivery(db, {
        messageOutId: 'o-1',
        platformMessageId: null,
        status: 'failed',
        deliveredAt: '2024-05-01T13:00:00.000Z',
      }),
    );

    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(rawRows('delivered')).toEqual([
      { message_out_id: 'o-1', platform_message_id: 'p-1', status: 'delivered', delivered_at: NOW },
    ]);
  });

  it('records failures too and reports every delivered id', () => {
    withInbound(inboundPath, (db) => {
      expect(
        recordDelivery(db, { messageOutId: 'o-1', platformMessageId: null, status: 'failed', deliveredAt: NOW }),
      ).toBe(true);
      expect(
        recordDelivery(db, { messageOutId: 'o-3', platformMessageId: 'p-3', status: 'delivered', deliveredAt: NOW }),
      ).toBe(true);
    });
    expect(readInbound(inboundPath, (db) => deliveredIds(db))).toEqual(new Set(['o-1', 'o-3']));
  });
});

describe('session routing', () => {
  it('has no routing until one is written', () => {
    expect(readInbound(inboundPath, (db) => readRouting(db))).toBeUndefined();
  });

  it('keeps exactly one routing row and overwrites it on every write', () => {
    withInbound(inboundPath, (db) => writeRouting(db, { channelType: 'slack', platformId: 'C1', threadId: 't-1' }));
    withInbound(inboundPath, (db) => writeRouting(db, { channelType: 'discord', platformId: 'D9', threadId: null }));

    expect(rawRows('session_routing')).toEqual([
      { id: 1, channel_type: 'discord', platform_id: 'D9', thread_id: null },
    ]);
    expect(readInbound(inboundPath, (db) => readRouting(db))).toEqual({
      channelType: 'discord',
      platformId: 'D9',
      threadId: null,
    });
  });
});

describe('replaceDestinations', () => {
  const slack: Destination = {
    name: 'main',
    displayName: 'Main chat',
    type: 'channel',
    channelType: 'slack',
    platformId: 'C1',
    agentGroupId: null,
  };
  const helper: Destination = {
    name: 'helper',
    displayName: null,
    type: 'agent',
    channelType: null,
    platformId: null,
    agentGroupId: 'ag-helper',
  };
  const names = () =>
    peek(
      inboundPath,
      (db) => db.prepare('SELECT name FROM destinations ORDER BY name').all() as { name: string }[],
    ).map((r) => r.name);

  it('replaces the whole table with the given list', () => {
    withInbound(inboundPath, (db) => replaceDestinations(db, [slack, helper]));
    expect(rawRows('destinations')).toEqual(
      expect.arrayContaining([
        {
          name: 'main',
          display_name: 'Main chat',
          type: 'channel',
          channel_type: 'slack',
          platform_id: 'C1',
          agent_group_id: null,
        },
        {
          name: 'helper',
          display_name: null,
          type: 'agent',
          channel_type: null,
          platform_id: null,
          agent_group_id: 'ag-helper',
        },
      ]),
    );

    withInbound(inboundPath, (db) => replaceDestinations(db, [{ ...helper, displayName: 'Helper' }]));
    expect(rawRows('destinations')).toEqual([
      {
        name: 'helper',
        display_name: 'Helper',
        type: 'agent',
        channel_type: null,
        platform_id: null,
        agent_group_id: 'ag-helper',
      },
    ]);
  });

  it('empties the table for an empty list', () => {
    withInbound(inboundPath, (db) => replaceDestinations(db, [slack]));
    withInbound(inboundPath, (db) => replaceDestinations(db, []));
    expect(names()).toEqual([]);
  });

  it('keeps the previous list when the replacement fails inside withInbound', () => {
    withInbound(inboundPath, (db) => replaceDestinations(db, [slack]));
    expect(() => withInbound(inboundPath, (db) => replaceDestinations(db, [helper, helper]))).toThrow(
      /UNIQUE constraint/,
    );
    expect(names()).toEqual(['main']);
  });
});
