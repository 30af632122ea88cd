import { afterEach, describe, expect, it } from 'vitest';
import { sessionMachine } from '../../machines/index.js';
import { replaySource } from '../../src/dashboard/replay-source.js';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import type { DashboardSource } from '../../src/dashboard/source.js';
import { RuntimeError } from '../../src/errors.js';
import { toSVG } from '../../src/viz/svg.js';
import { testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';
import { timeline } from './fixtures.js';
import { get, openSse } from './http.js';

const tmp = useTmpDir('dash-srv-');
const open: Dashboard[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

/** A source whose changes the test triggers. */
function manualSource(): DashboardSource & { change(ids: string[]): void } {
  const listeners = new Set<(ids: string[]) => void>();
  return {
    kind: 'live',
    title: 'manual',
    sessions: (q) => ({ total: 0, offset: q.offset, rows: [] }),
    session: () => undefined,
    onChange(cb) {
      listeners.add(cb);
      return () => void listeners.delete(cb);
    },
    change(ids) {
      for (const cb of listeners) cb(ids);
    },
  };
}

async function serve(source: DashboardSource, options: Parameters<typeof startDashboard>[1] = {}) {
  const d = await startDashboard(source, options);
  open.push(d);
  return d;
}

describe('startDashboard', () => {
  it('serves the page, its assets and the statechart from the package, on 127.0.0.1 and a free port', async () => {
    const { url } = await serve(replaySource(timeline));
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(url);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    // Nothing is loaded from elsewhere: every src and href is local.
    for (const m of page.body.matchAll(/(?:src|href)="([^"]*)"/g)) expect(m[1]).toMatch(/^(\/assets\/|data:)/);
    expect((await get(`${url}assets/app.js`)).headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await get(`${url}assets/app.css`)).status).toBe(200);
    const chart = await get(`${url}chart.svg`);
    expect(chart.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    expect(chart.body).toBe(await toSVG(sessionMachine));
    expect((await get(`${url}api/info`)).body).toBe(
      JSON.stringify({
        kind: 'replay',
        title: 'replay',
        machine: 'session',
        regions: ['container', 'poller', 'mailbox'],
        records: 11,
        divergence: null,
      }),
    );
  });

  it('refuses other methods, other hosts and unknown paths', async () => {
    const { url } = await serve(replaySource(timeline));
    expect((await get(url, { method: 'POST' })).status).toBe(405);
    expect((await get(url, { method: 'DELETE' })).status).toBe(405);
    expect((await get(url, { host: 'evil.example' })).status).toBe(403);
    expect((await get(url, { host: 'evil.example:80' })).status).toBe(403);
    expect((await get(url, { host: `localhost:${new URL(url).port}` })).status).toBe(200);
    expect((await get(`${url}assets/../package.json`)).status).toBe(404);
    expect((await get(`${url}etc/passwd`)).status).toBe(404);
    expect((await get(`${url}api/sessions?limit=0`)).status).toBe(400);
  });

  it('pushes changes over SSE coalesced: 1,000 busy sessions make a handful of messages, every id delivered', async () => {
    const source = manualSource();
    const { url } = await serve(source, { coalesceMs: 100 });
    const sse = await openSse(`${url}api/events`);
    await sse.until((e) => e.some((x) => x.event === 'hello'));
    const all = Array.from({ length: 400 }, (_, i) => `s-${i}`);
    for (let round = 0; round < 20; round++) for (const id of all) source.change([id]);
    await sse.until((e) => new Set(e.flatMap((x) => (x.data as { ids?: string[] }).ids ?? [])).size === all.length);
    const changes = sse.events.filter((e) => e.event === 'changes');
    expect(changes.length).toBeLessThanOrEqual(2);
    sse.close();
  });

  it('sends { all: true } instead of a batch too large to be worth listing', async () => {
    const source = manualSource();
    const { url } = await serve(source, { coalesceMs: 50 });
    const sse = await openSse(`${url}api/events`);
    await sse.until((e) => e.length > 0);
    source.change(Array.from({ length: 1_000 }, (_, i) => `s-${i}`));
    await sse.until((e) => e.some((x) => x.event === 'changes'));
    expect(sse.events.find((x) => x.event === 'changes')?.data).toEqual({ all: true });
    sse.close();
  });

  it('ends open event streams and stops listening on close', async () => {
    const source = manualSource();
    const d = await startDashboard(source);
    const sse = await openSse(`${d.url}api/events`);
    await d.close();
    await sse.ended;
    await expect(get(d.url)).rejects.toThrow();
    await d.close(); // a second close is harmless
  });

  it('serves a runtime directly, and refuses a bad port', async () => {
    const { rt } = await testRuntime(tmp());
    try {
      const { session } = await rt.resolveSession({
        agentGroupId: 'ag-main',
        messagingGroupId: 'mg-slack',
        threadId: null,
        mode: 'shared',
      });
      const d = await startDashboard(rt);
      open.push(d);
      const page = JSON.parse((await get(`${d.url}api/sessions`)).body) as { total: number; rows: { id: string }[] };
      expect(page.rows.map((r) => r.id)).toEqual([session.id]);
      await expect(startDashboard(rt, { port: 70_000 })).rejects.toThrow(RuntimeError);
      await expect(startDashboard(rt, { port: 1.5 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await d.close();
      expect(rt.listenerCount('container.status')).toBe(0);
    } finally {
      await rt.close();
    }
  });
});
