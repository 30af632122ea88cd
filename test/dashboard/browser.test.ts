/**
 * The dashboard in a real browser (headless Chromium through playwright-core): the live page of a
 * runtime, the replay page of a timeline, and a read-only dashboard following another process.
 * Screenshots go to test/artifacts/.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replaySource } from '../../src/dashboard/replay-source.js';
import { rowMatcher, type DashboardSource } from '../../src/dashboard/source.js';
import { startDashboard } from '../../src/dashboard/server.js';
import { buildReplayTimeline } from '../../src/eventlog/replay-timeline.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';
import { launchBrowser, problemsOf, screenshot, waitUntil, type Browser } from './browser.js';
import { divergentTimeline, timeline } from './fixtures.js';

const tmp = useTmpDir('dash-browser-');
let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

async function open(url: string): Promise<Page> {
  const page = await browser.page();
  await page.goto(url);
  await page.waitForSelector('body[data-ready]');
  return page;
}

/** The `data-state` ids highlighted on the chart. */
const active = (page: Page): Promise<string[]> =>
  page.evaluate(
    `[...document.querySelectorAll('#chart .sc-active')].map((n) => n.getAttribute('data-state')).sort()`,
  ) as Promise<string[]>;

const rowIds = (page: Page): Promise<string[]> =>
  page.evaluate(
    `[...document.querySelectorAll('#table tbody tr[data-session-id]')].map((tr) => tr.dataset.sessionId)`,
  ) as Promise<string[]>;

describe('live dashboard', () => {
  it('shows the chart, lists the sessions, follows a status change within 2 s and highlights the selected state', async () => {
    const driver = fakeDriver();
    const { rt } = await testRuntime(tmp(), { driver, autoWake: false });
    const dashboard = await startDashboard(rt);
    try {
      const ids: string[] = [];
      for (const [mg, thread, mode] of [
        ['mg-slack', null, 'shared'],
        ['mg-slack', 'thread-1', 'per-thread'],
        ['mg-slack', 'thread-2', 'per-thread'],
      ] as const) {
        ids.push(
          (await rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: mg, threadId: thread, mode })).session
            .id,
        );
      }
      const page = await open(dashboard.url);
      // The chart: every state of the session machine is drawn, every label is text.
      expect(await page.locator('#chart svg [data-state="session.container.running"]').count()).toBe(1);
      expect(await page.locator('#chart svg .sc-transition').count()).toBeGreaterThan(10);
      expect(await rowIds(page)).toEqual(ids);
      expect(await page.textContent(`tr[data-session-id="${ids[1]}"] td:nth-child(2)`)).toBe('per-thread');

      // A container starts in the runtime: the row shows it without a reload, within 2 s. (With no
      // work to claim, the fake container goes from running to idle at its first poll.)
      await page.click(`tr[data-session-id="${ids[1]}"]`);
      await page.waitForSelector(`#detail[data-session="${ids[1]}"]`);
      expect(await active(page)).toContain('session.container.stopped');
      await rt.wake(ids[1]!);
      await page.waitForSelector(`tr[data-session-id="${ids[1]}"] :is(.status-running, .status-idle)`, {
        timeout: 2_000,
      });

      // Selected, its current state in each region the runtime reports is highlighted.
      const live = rt.containerStatus(ids[1]!);
      await page.waitForSelector(`tr[data-session-id="${ids[1]}"] .status-${live}`, { timeout: 2_000 });
      await waitUntil(
        page,
        `document.querySelector('#chart [data-state="session.container.${live}"]').classList.contains('sc-active')`,
        2_000,
      );
      const highlighted = await active(page);
      expect(highlighted).toContain(`session.container.${live}`);
      expect(highlighted).not.toContain('session.container.stopped');
      const shown = (await page.evaluate(
        `Object.fromEntries([...document.querySelectorAll('#detail [data-region]')].map((n) => [n.dataset.region, n.querySelector('b').textContent]))`,
      )) as Record<string, string>;
      expect(shown.container).toBe(live);
      for (const [region, value] of Object.entries(shown)) {
        if (value !== '?') expect(highlighted).toContain(`session.${region}.${value}`);
      }
      expect(await page.textContent('#detail')).toMatch(/container (stopped|starting) → running/);

      // Filtering narrows the table on the server.
      await page.fill('#filter', 'thread-2');
      await waitUntil(page, `document.querySelectorAll('#table tbody tr[data-session-id]').length === 1`);
      expect(await rowIds(page)).toEqual([ids[2]]);
      await page.fill('#filter', '');
      await waitUntil(page, `document.querySelectorAll('#table tbody tr[data-session-id]').length === 3`);
      await screenshot(page, 'dashboard-live.png');
      expect(problemsOf(page), JSON.stringify(problemsOf(page))).toEqual([]);
      await page.close();
    } finally {
      await dashboard.close();
      await rt.close();
    }
  });
});

describe('dashboard at scale', () => {
  it('pages 10,000 sessions, filters them on the server, and stays calm while 1,000 of them are busy', async () => {
    const all = Array.from({ length: 10_000 }, (_, i) => ({
      id: `s-${String(i).padStart(5, '0')}`,
      mode: i % 3 === 0 ? 'per-thread' : 'shared',
      agentGroupId: `ag-${i % 7}`,
      messagingGroupId: `mg-${i % 11}`,
      threadId: null,
      status: 'active' as const,
      containerStatus: i % 5 === 0 ? 'running' : 'stopped',
      queued: 0,
      messagesIn: i,
      messagesOut: 0,
      failed: 0,
      lastActive: null,
      lastChange: null,
    }));
    const listeners = new Set<(ids: string[]) => void>();
    const source: DashboardSource = {
      kind: 'live',
      title: 'ten thousand',
      sessions(q) {
        const found = all.filter(rowMatcher(q));
        return { total: found.length, offset: q.offset, rows: found.slice(q.offset, q.offset + q.limit) };
      },
      session: () => undefined,
      onChange(cb) {
        listeners.add(cb);
        return () => void listeners.delete(cb);
      },
    };
    const dashboard = await startDashboard(source);
    try {
      const page = await open(dashboard.url);
      expect(await page.textContent('#count')).toBe('10000 sessions');
      expect(await page.locator('#table tbody tr[data-session-id]').count()).toBe(50);
      await page.click('#page-next');
      await waitUntil(page, `document.getElementById('page').textContent === '51–100'`);
      expect((await rowIds(page))[0]).toBe('s-00050');
      await page.fill('#filter', 'ag-3 per-thread');
      await waitUntil(page, `document.getElementById('count').textContent === '477 sessions'`);
      expect(await page.textContent('#page')).toBe('1–50');

      // 1,000 sessions change 20 times each over about a second: the page re-reads a handful of times.
      const reads: string[] = [];
      page.on('request', (r) => {
        if (r.url().includes('/api/sessions')) reads.push(r.url());
      });
      const started = Date.now();
      for (let round = 0; round < 20; round++) {
        for (const cb of listeners) cb(all.slice(0, 1_000).map((r) => r.id));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await new Promise((resolve) => setTimeout(resolve, 600));
      // At most one batch per 250 ms reaches the page, and each costs it one read of its rows.
      const batches = Math.ceil((Date.now() - started) / 250) + 1;
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.length).toBeLessThanOrEqual(batches);
      expect(reads.length).toBeLessThan(20);
      expect(problemsOf(page)).toEqual([]);
      await page.close();
    } finally {
      await dashboard.close();
    }
  });
});

describe('replay dashboard', () => {
  it('steps through a fixture log and shows the container start at the record the actor processed it', async () => {
    const file = fileURLToPath(new URL('../fixtures/logs/idle-timeout.jsonl', import.meta.url));
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { k: string; s?: string; sessionId?: string; to?: string; e?: { type: string } });
    // From the log itself: the first recorded stopped → running, and the start outcome its actor
    // processed just before it. Line n (0-based, the header is 0) holds record n - 1.
    const trLine = lines.findIndex((r) => r.k === 'tr' && r.to === 'running');
    const sessionId = lines[trLine]!.sessionId!;
    let startLine = trLine - 1;
    while (!(lines[startLine]!.s === sessionId && lines[startLine]!.e?.type.startsWith('xstate.done.actor.')))
      startLine--;
    const start = startLine - 1;

    const built = await buildReplayTimeline(file, { dataDir: tmp() });
    const dashboard = await startDashboard(replaySource(built));
    try {
      const page = await open(`${dashboard.url}#session=${sessionId}&at=0`);
      expect(await rowIds(page)).toEqual([]);
      // Jump from change to change of the session until its container runs: that is the record.
      for (let i = 0; i < 50 && !(await active(page)).includes('session.container.running'); i++) {
        const before = await page.textContent('#position');
        await page.click('#next-change');
        await waitUntil(page, `document.getElementById('position').textContent !== ${JSON.stringify(before)}`);
        await waitUntil(page, `document.getElementById('detail').dataset.session === ${JSON.stringify(sessionId)}`);
      }
      expect(await page.textContent('#position')).toBe(`record ${start} of ${lines.length - 2}`);
      expect(await active(page)).toEqual([
        'session.container.running',
        'session.mailbox.gathering',
        'session.poller.polling',
      ]);
      expect(await page.textContent(`tr[data-session-id="${sessionId}"] .status`)).toBe('running');
      expect(await page.textContent('#records li.current')).toContain(built.records[start]!.summary);

      // One record back the container is still starting; forward to the tr record it is running.
      await page.click('#prev-record');
      await waitUntil(
        page,
        `document.getElementById('position').textContent === 'record ${start - 1} of ${lines.length - 2}'`,
      );
      await waitUntil(
        page,
        `document.querySelector('#chart [data-state="session.container.starting"]').classList.contains('sc-active')`,
      );
      expect(await page.textContent(`tr[data-session-id="${sessionId}"] .status`)).toBe('stopped');
      await page.click('#next-transition');
      await waitUntil(
        page,
        `document.getElementById('position').textContent === 'record ${start} of ${lines.length - 2}'`,
      );
      // Record by record (other events of the actor may sit between) up to the tr record.
      for (let at = start; at < trLine - 1; at++) {
        await page.click('#next-record');
        await waitUntil(
          page,
          `document.getElementById('position').textContent === 'record ${at + 1} of ${lines.length - 2}'`,
        );
      }
      expect(await page.textContent('#records li.current')).toContain(built.records[trLine - 1]!.summary);
      expect(built.records[trLine - 1]!.summary).toContain('stopped → running');
      expect(await active(page)).toContain('session.container.running');
      await screenshot(page, 'dashboard-replay.png');
      expect(problemsOf(page), JSON.stringify(problemsOf(page))).toEqual([]);
      await page.close();
    } finally {
      await dashboard.close();
    }
  });

  it('steps record by record, transition by transition and change by change through a timeline', async () => {
    const dashboard = await startDashboard(replaySource(timeline));
    try {
      const page = await open(`${dashboard.url}#session=s-1&at=3`);
      await page.waitForSelector('#detail[data-session="s-1"]');
      expect(await page.textContent('#position')).toBe('record 3 of 10');
      expect(await active(page)).toEqual(['session.container.stopped', 'session.mailbox.idle', 'session.poller.off']);

      // Next record: 4 changes nothing for s-1.
      await page.click('#next-record');
      await waitUntil(page, `document.getElementById('position').textContent === 'record 4 of 10'`);
      expect(await active(page)).toContain('session.container.stopped');

      // Next transition: record 5, where the container starts and the poller polls.
      await page.click('#next-transition');
      await waitUntil(page, `document.getElementById('position').textContent === 'record 5 of 10'`);
      await waitUntil(
        page,
        `document.querySelector('#chart [data-state="session.container.running"]').classList.contains('sc-active')`,
      );
      expect(await active(page)).toEqual([
        'session.container.running',
        'session.mailbox.idle',
        'session.poller.polling',
      ]);
      expect(await page.textContent('tr[data-session-id="s-1"] .status')).toBe('running');
      expect(await page.textContent('#records li.current')).toContain('container started');
      // s-2 does not exist yet at record 5.
      expect(await rowIds(page)).toEqual(['s-1']);

      // The session's next change (record 7): idle; and back one record.
      await page.click('#next-change');
      await waitUntil(page, `document.getElementById('position').textContent === 'record 7 of 10'`);
      await waitUntil(
        page,
        `document.querySelector('#chart [data-state="session.container.idle"]').classList.contains('sc-active')`,
      );
      expect(await rowIds(page)).toEqual(['s-1', 's-2']);
      await page.keyboard.press('ArrowLeft');
      await waitUntil(page, `document.getElementById('position').textContent === 'record 6 of 10'`);
      await waitUntil(
        page,
        `document.querySelector('#chart [data-state="session.container.running"]').classList.contains('sc-active')`,
      );
      await page.click('#next-transition');
      await waitUntil(page, `document.getElementById('position').textContent === 'record 7 of 10'`);
      expect(problemsOf(page), JSON.stringify(problemsOf(page))).toEqual([]);
      await page.close();
    } finally {
      await dashboard.close();
    }
  });

  it('opens a divergent replay at the first divergent record, expected against actual', async () => {
    const dashboard = await startDashboard(replaySource(divergentTimeline));
    try {
      const page = await open(dashboard.url);
      expect(await page.textContent('#position')).toBe('record 9 of 10');
      expect(await page.isVisible('#divergence')).toBe(true);
      expect(await page.textContent('#div-what')).toBe('commit results differ');
      expect(JSON.parse((await page.textContent('#div-expected'))!)).toEqual([{ ok: true, value: { seq: 2 } }]);
      expect(JSON.parse((await page.textContent('#div-actual'))!)).toEqual([{ ok: true, value: { seq: 4 } }]);
      await screenshot(page, 'dashboard-divergence.png');
      await page.close();
    } finally {
      await dashboard.close();
    }
  });
});

describe('read-only dashboard', () => {
  it("follows another process's status changes through an observer runtime", async () => {
    const dataDir = tmp();
    const worker = fileURLToPath(new URL('./owner-worker.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', worker, dataDir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => (await lines.next()).value as string;
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      const sessionId = (await next()).replace(/^session /, '');
      const observer = await createRuntime({ dataDir, readOnly: true, driver: 'none', pollMs: 100 });
      const dashboard = await startDashboard(observer);
      try {
        const page = await open(dashboard.url);
        await page.waitForSelector(`tr[data-session-id="${sessionId}"] .status-stopped`);
        child.stdin.write('wake\n');
        expect(['running', 'idle']).toContain(await next());
        await page.waitForSelector(`tr[data-session-id="${sessionId}"] :is(.status-running, .status-idle)`, {
          timeout: 2_000,
        });
        child.stdin.write('stop\n');
        expect(await next()).toBe('stopped');
        await page.waitForSelector(`tr[data-session-id="${sessionId}"] .status-stopped`, { timeout: 2_000 });
        expect(problemsOf(page), JSON.stringify(problemsOf(page))).toEqual([]);
        await page.close();
      } finally {
        await dashboard.close();
        await observer.close();
      }
    } finally {
      child.stdin.write('exit\n');
      await exited;
    }
  });
});
