import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { replaySource } from '../../src/dashboard/replay-source.js';
import { RuntimeError } from '../../src/errors.js';
import { buildReplayTimeline } from '../../src/eventlog/replay-timeline.js';
import { useTmpDir } from '../helpers/tmp.js';
import { timeline } from './fixtures.js';

const tmp = useTmpDir('dash-replay-');
const LOGS = fileURLToPath(new URL('../fixtures/logs/', import.meta.url));
const logs = readdirSync(LOGS).filter((f) => f.endsWith('.jsonl'));

const ids = (at: number) =>
  replaySource(timeline)
    .sessions({ offset: 0, limit: 50, at })
    .rows.map((r) => r.id);

describe('replaySource', () => {
  it('lists a session from the first record that names it', () => {
    expect(ids(0)).toEqual([]);
    expect(ids(1)).toEqual(['s-1']);
    expect(ids(5)).toEqual(['s-1']);
    expect(ids(6)).toEqual(['s-1', 's-2']);
  });

  it('shows each session as it was after its last change at or before the cursor', () => {
    const source = replaySource(timeline);
    const row = (at: number) => source.sessions({ offset: 0, limit: 50, at }).rows[0]!;
    expect(row(2)).toMatchObject({ id: 's-1', containerStatus: 'stopped', queued: 1, messagesIn: 0, lastChange: 2 });
    expect(row(3)).toMatchObject({ queued: 0, messagesIn: 1, lastChange: 3 });
    expect(row(4)).toMatchObject({ containerStatus: 'stopped', lastChange: 3 });
    expect(row(5)).toMatchObject({ containerStatus: 'running', lastChange: 5 });
    expect(row(10)).toMatchObject({ containerStatus: 'idle', messagesOut: 1, lastChange: 7 });
    expect(source.session('s-1', 4)?.state).toEqual({ container: 'stopped', poller: 'off', mailbox: 'idle' });
    expect(source.session('s-1', 5)?.state).toEqual({ container: 'running', poller: 'polling', mailbox: 'idle' });
    expect(source.session('s-2', 5)).toBeUndefined();
  });

  it('filters and pages at the cursor: status is the status then, not at the end', () => {
    const source = replaySource(timeline);
    expect(source.sessions({ offset: 0, limit: 50, at: 5, status: 'running' }).rows.map((r) => r.id)).toEqual(['s-1']);
    expect(source.sessions({ offset: 0, limit: 50, at: 10, status: 'running' }).total).toBe(0);
    expect(source.sessions({ offset: 0, limit: 50, at: 10, filter: 'TOPIC per-thread' }).rows.map((r) => r.id)).toEqual(
      ['s-2'],
    );
    const page = source.sessions({ offset: 1, limit: 1, at: 10 });
    expect(page).toMatchObject({ total: 2, offset: 1 });
    expect(page.rows.map((r) => r.id)).toEqual(['s-2']);
  });

  it("lists a session's transitions per region with the record that made them, and its records up to the cursor", () => {
    const d = replaySource(timeline).session('s-1', 7)!;
    expect(d.transitions.map((t) => [t.index, t.region, t.from, t.to])).toEqual([
      [1, 'container', '', 'stopped'],
      [1, 'poller', '', 'off'],
      [1, 'mailbox', '', 'idle'],
      [2, 'mailbox', 'idle', 'committing'],
      [3, 'mailbox', 'committing', 'idle'],
      [5, 'container', 'stopped', 'running'],
      [5, 'poller', 'off', 'polling'],
      [7, 'container', 'running', 'idle'],
    ]);
    expect(d.transitions.at(-1)?.reason).toBe('container.observed idle');
    expect(d.records.map((r) => r.index)).toEqual([1, 2, 3, 4, 5, 7]);
    expect(d.delivered).toBe(1);
  });

  it('seeks record by record, transition by transition and change by change, never onto itself', () => {
    const { replay } = replaySource(timeline);
    expect(replay!.seek(0, 'record', -1)).toBeNull();
    expect(replay!.seek(0, 'record', 1)).toBe(1);
    expect(replay!.seek(10, 'record', 1)).toBeNull();
    // Chart changes: 1 (s-1 appears), 2, 3, 5, 6 (s-2 appears), 7, 8, 9.
    expect(replay!.seek(3, 'transition', 1)).toBe(5);
    expect(replay!.seek(4, 'transition', 1)).toBe(5);
    expect(replay!.seek(5, 'transition', -1)).toBe(3);
    expect(replay!.seek(4, 'transition', -1)).toBe(3);
    expect(replay!.seek(9, 'transition', 1)).toBeNull();
    expect(replay!.seek(3, 'session', 1, 's-1')).toBe(5);
    expect(replay!.seek(7, 'session', 1, 's-1')).toBeNull();
    expect(replay!.seek(9, 'session', -1, 's-2')).toBe(8);
    expect(replay!.seek(3, 'session', 1, 'nobody')).toBeNull();
  });

  it('does not count a change of counts alone as a transition on the chart', () => {
    const counted = replaySource({
      ...timeline,
      changes: [
        ...timeline.changes.slice(0, 3),
        { index: 4, sessionId: 's-1', view: { ...timeline.changes[2]!.view, messagesIn: 2 } },
      ],
    });
    expect(counted.replay!.seek(3, 'transition', 1)).toBeNull();
    expect(counted.replay!.seek(3, 'session', 1, 's-1')).toBe(4);
  });

  it('refuses a timeline whose record indices are not their positions', () => {
    const broken = { ...timeline, records: [timeline.records[1]!] };
    expect(() => replaySource(broken)).toThrow(RuntimeError);
  });

  it.each(logs)(
    'agrees with the run recorded in %s: at each tr record, the session shows that status',
    async (file) => {
      const text = readFileSync(`${LOGS}${file}`, 'utf8');
      const built = await buildReplayTimeline(text, { dataDir: tmp() });
      const source = replaySource(built);
      // Past a divergence the replayed state is not the recorded one: compare up to it.
      const end = built.divergence?.index ?? built.records.length;
      const lines = text.trimEnd().split('\n');
      let checked = 0;
      lines.forEach((line, i) => {
        const r = JSON.parse(line) as { k: string; sessionId?: string; to?: string };
        const at = i - 1; // line i + 1 (1-based) holds record i - 1: the header is line 1
        if (r.k !== 'tr' || r.to === 'created' || at >= end) return;
        const row = source.sessions({ offset: 0, limit: 500, at }).rows.find((x) => x.id === r.sessionId);
        expect(row, `${file} line ${i + 1}`).toBeDefined();
        if (r.to === 'closed') expect(row!.status).toBe('closed');
        else expect(row!.containerStatus, `${file} line ${i + 1}`).toBe(r.to);
        checked++;
      });
      if (built.divergence === null) expect(checked).toBeGreaterThan(0);
    },
  );
});
