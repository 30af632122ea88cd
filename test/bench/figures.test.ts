/**
 * The figure arithmetic of bench/figures.ts: medians, per-run ratios, fractions of a limit and
 * target verdicts (the numbers `npm run bench` prints and the README quotes).
 */
import { describe, expect, it } from 'vitest';
import { figure, formatNumber, middle, Runs, targetsMet, type FigureDef } from '../../bench/figures.js';

const throughput: FigureDef = {
  key: 't',
  label: 'throughput',
  unit: 'msg/s',
  better: 'higher',
  baseline: 'by hand',
  limit: 'ceiling',
  target: { on: 'ratio', op: '>=', threshold: 1 },
};

describe('figures', () => {
  it('takes the middle value of an odd count and the mean of the middle two of an even one', () => {
    expect(middle([3, 1, 2])).toBe(2);
    expect(middle([4, 1, 3, 2])).toBe(2.5);
    expect(middle([])).toBeNaN();
  });

  it('ratios are per run: each run against its own baseline, then summarised', () => {
    // Medians are 200 and 100 (ratio of medians 2), but the runs' own ratios are 1, 4 and 1.5.
    const f = figure(throughput, [
      { value: 100, baseline: 100, limit: 1000 },
      { value: 200, baseline: 50, limit: 1000 },
      { value: 300, baseline: 200, limit: 1000 },
    ]);
    expect(f.value).toMatchObject({ min: 100, median: 200, max: 300 });
    expect(f.baseline).toMatchObject({ label: 'by hand', median: 100 });
    expect(f.ratio).toMatchObject({ values: [1, 4, 1.5], min: 1, median: 1.5, max: 4 });
    expect(f.fractionOfLimit?.values).toEqual([0.1, 0.2, 0.3]);
    expect(f.target).toMatchObject({ actual: 1.5, met: true });
  });

  it('fraction of a latency floor is limit ÷ value, so nearer the floor is nearer 1', () => {
    const f = figure({ key: 'l', label: 'latency', unit: 'ms', better: 'lower', limit: 'floor' }, [
      { value: 20, limit: 5 },
    ]);
    expect(f.fractionOfLimit?.median).toBe(0.25);
  });

  it('judges a lower-is-better target on the median value', () => {
    const def: FigureDef = {
      key: 'p',
      label: 'p99',
      unit: 'ms',
      better: 'lower',
      target: { on: 'value', op: '<=', threshold: 10 },
    };
    expect(figure(def, [{ value: 9 }, { value: 30 }, { value: 10 }]).target?.met).toBe(true);
    expect(figure(def, [{ value: 9 }, { value: 30 }, { value: 11 }]).target?.met).toBe(false);
  });

  it('a target on a missing baseline is not judged', () => {
    const f = figure(throughput, [{ value: 100 }, { value: 200, baseline: 100 }]);
    expect(f.baseline).toBeUndefined();
    expect(f.target).toMatchObject({ actual: null, met: null });
    expect(targetsMet([f])).toBe(true);
  });

  it('Runs reports only figures that were measured, in definition order', () => {
    const runs = new Runs();
    runs.add('b', { value: 2 });
    runs.add('a', { value: 1 });
    runs.add('b', { value: 4 });
    const out = runs.figures([
      { key: 'a', label: 'A', unit: 'x', better: 'higher', target: { on: 'value', op: '>=', threshold: 2 } },
      { key: 'b', label: 'B', unit: 'x', better: 'higher' },
      { key: 'c', label: 'C', unit: 'x', better: 'higher' },
    ]);
    expect(out.map((f) => [f.key, f.runs, f.value.median])).toEqual([
      ['a', 1, 1],
      ['b', 2, 3],
    ]);
    expect(targetsMet(out)).toBe(false);
  });

  it('formats large numbers grouped and small ones to three significant digits', () => {
    expect(formatNumber(1234567.8)).toBe('1,234,568');
    expect(formatNumber(12.3456)).toBe('12.3');
    expect(formatNumber(0.012345)).toBe('0.0123');
    expect(formatNumber(0)).toBe('0');
  });
});
