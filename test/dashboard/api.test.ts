import { describe, expect, it } from 'vitest';
import { handleApi, MAX_LIMIT, type ApiInfo } from '../../src/dashboard/api.js';
import { replaySource } from '../../src/dashboard/replay-source.js';
import type { DashboardSource, SessionQuery } from '../../src/dashboard/source.js';
import { divergentTimeline, timeline } from './fixtures.js';

const info: ApiInfo = { kind: 'replay', title: 't', machine: 'session', regions: [], records: 11, divergence: null };
const call = (source: DashboardSource, path: string) => handleApi(source, info, new URL(path, 'http://x'));

/** A live source that records the queries it is asked. */
function liveSource(): DashboardSource & { queries: SessionQuery[] } {
  const queries: SessionQuery[] = [];
  return {
    kind: 'live',
    title: 'live',
    queries,
    sessions(q) {
      queries.push(q);
      return { total: 0, offset: q.offset, rows: [] };
    },
    session: () => undefined,
    onChange: () => () => undefined,
  };
}

describe('dashboard API', () => {
  it('passes filter, status and paging through, with defaults', () => {
    const source = liveSource();
    expect(call(source, '/api/sessions').status).toBe(200);
    expect(call(source, '/api/sessions?q=ag%20main&status=running&offset=100&limit=25').status).toBe(200);
    expect(source.queries).toEqual([
      { offset: 0, limit: 50 },
      { offset: 100, limit: 25, filter: 'ag main', status: 'running' },
    ]);
  });

  it.each([
    ['/api/sessions?limit=0', 'limit must be between 1 and 500'],
    [`/api/sessions?limit=${MAX_LIMIT + 1}`, 'limit must be between 1 and 500'],
    ['/api/sessions?offset=-1', 'offset must be between'],
    ['/api/sessions?offset=1e3', 'offset must be an integer'],
    ['/api/sessions?limit=abc', 'limit must be an integer'],
    [`/api/sessions?q=${'x'.repeat(201)}`, 'q is longer than 200'],
    ['/api/session', 'id is required'],
    ['/api/session?id=', 'id is required'],
  ])('refuses %s with 400', (path, message) => {
    const r = call(liveSource(), path);
    expect(r.status).toBe(400);
    expect((r.body as { error: string }).error).toContain(message);
  });

  it('answers null for an unknown session, 404 for an unknown route and replay routes on a live source', () => {
    expect(call(liveSource(), '/api/session?id=nope')).toEqual({ status: 200, body: null });
    expect(call(replaySource(timeline), '/api/session?id=s-2&at=5')).toEqual({ status: 200, body: null });
    expect(call(liveSource(), '/api/nothing').status).toBe(404);
    expect(call(liveSource(), '/api/records').status).toBe(404);
    expect(call(liveSource(), '/api/seek?from=0').status).toBe(404);
  });

  it('reads a replay at the cursor, lists records and seeks', () => {
    const source = replaySource(timeline);
    const page = call(source, '/api/sessions?at=5').body as { rows: { id: string; containerStatus: string }[] };
    expect(page.rows).toMatchObject([{ id: 's-1', containerStatus: 'running' }]);
    // Without a cursor the page reads the end of the log.
    expect((call(source, '/api/sessions').body as { total: number }).total).toBe(2);
    expect(call(source, '/api/session?id=s-1&at=2').body).toMatchObject({ state: { mailbox: 'committing' } });
    expect(call(source, '/api/records?offset=9&limit=5').body).toMatchObject({
      count: 11,
      offset: 9,
      records: [{ index: 9 }, { index: 10 }],
    });
    expect(call(source, '/api/seek?from=3&kind=transition').body).toEqual({ index: 5 });
    expect(call(source, '/api/seek?from=5&kind=transition&dir=-1').body).toEqual({ index: 3 });
    expect(call(source, '/api/seek?from=3&kind=session&session=s-1').body).toEqual({ index: 5 });
    expect(call(source, '/api/seek?from=10&kind=record').body).toEqual({ index: null });
  });

  it.each([
    ['/api/sessions?at=11', 'at must be between 0 and 10'],
    ['/api/seek', 'from is required'],
    ['/api/seek?from=0&kind=sideways', 'kind must be record, transition or session'],
    ['/api/seek?from=0&kind=session', 'session is required'],
  ])('refuses %s on a replay with 400', (path, message) => {
    const r = call(replaySource(divergentTimeline), path);
    expect(r.status).toBe(400);
    expect((r.body as { error: string }).error).toContain(message);
  });
});
