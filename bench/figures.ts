/**
 * Figures: what every benchmark reports. A figure is one quantity measured once per run (three
 * runs by default), optionally beside a baseline measured in the same run and a physical limit
 * measured in the same run, and judged against a target on the median of its runs.
 *
 * Invariants (guarded by test/bench/figures.test.ts):
 * 1. The ratio and the fraction of the limit are computed run by run (each run against its own
 *    baseline and limit), then summarised; never as a ratio of medians ("ratios are per run").
 * 2. The fraction of a limit is "how close to the limit" whichever way is better: value ÷ limit
 *    when higher is better, limit ÷ value when lower is better ("fraction of a latency floor").
 * 3. A target is judged on the median of the quantity it names, and `met` is null when a run
 *    lacks that quantity, never a guess ("a target on a missing baseline is not judged").
 * 4. The median of an even number of runs is the mean of the two middle ones.
 */
export type Better = 'higher' | 'lower';

/** A target from the issue: `on` names what is compared with `threshold`. */
export interface Target {
  /** `value`: the figure itself; `ratio`: value ÷ baseline; `limit`: the fraction of the limit. */
  on: 'value' | 'ratio' | 'limit';
  op: '>=' | '<=';
  threshold: number;
}

/** What one run measured for one figure. */
export interface Sample {
  value: number;
  baseline?: number;
  limit?: number;
}

/** How a figure is named, compared and judged; the numbers come from the runs' samples. */
export interface FigureDef {
  /** Stable key, used in the JSON and to match samples, e.g. `ingest.msgps.s100`. */
  key: string;
  label: string;
  unit: string;
  better: Better;
  /** What the baseline is, when there is one. */
  baseline?: string;
  /** The baseline's unit, when not the figure's (a ratio of unlike units is still run by run). */
  baselineUnit?: string;
  /** What the physical limit is, when there is one. */
  limit?: string;
  /** The limit's unit, when not the figure's. */
  limitUnit?: string;
  target?: Target;
  note?: string;
}

export interface Spread {
  values: number[];
  min: number;
  median: number;
  max: number;
}

export interface Figure {
  key: string;
  label: string;
  unit: string;
  better: Better;
  runs: number;
  value: Spread;
  baseline?: { label: string; unit: string } & Spread;
  /** value ÷ baseline, run by run. */
  ratio?: Spread;
  limit?: { label: string; unit: string } & Spread;
  /** How close to the limit, run by run (invariant 2). */
  fractionOfLimit?: Spread;
  target?: Target & { actual: number | null; met: boolean | null };
  note?: string;
}

/** The median (mean of the middle two for an even count); NaN for an empty list. */
export function middle(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const half = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}

export function spread(values: readonly number[]): Spread {
  return {
    values: [...values],
    min: values.length === 0 ? Number.NaN : Math.min(...values),
    median: middle(values),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
  };
}

function compare(actual: number, target: Target): boolean {
  return target.op === '>=' ? actual >= target.threshold : actual <= target.threshold;
}

/** Builds one figure from its definition and one sample per run. */
export function figure(def: FigureDef, samples: readonly Sample[]): Figure {
  const values = samples.map((s) => s.value);
  const hasAll = (k: 'baseline' | 'limit') => samples.length > 0 && samples.every((s) => s[k] !== undefined);
  const out: Figure = {
    key: def.key,
    label: def.label,
    unit: def.unit,
    better: def.better,
    runs: samples.length,
    value: spread(values),
  };
  if (def.baseline !== undefined && hasAll('baseline')) {
    const base = samples.map((s) => s.baseline!);
    out.baseline = { label: def.baseline, unit: def.baselineUnit ?? def.unit, ...spread(base) };
    out.ratio = spread(samples.map((s) => s.value / s.baseline!));
  }
  if (def.limit !== undefined && hasAll('limit')) {
    out.limit = { label: def.limit, unit: def.limitUnit ?? def.unit, ...spread(samples.map((s) => s.limit!)) };
    out.fractionOfLimit = spread(
      samples.map((s) => (def.better === 'higher' ? s.value / s.limit! : s.limit! / s.value)),
    );
  }
  if (def.target !== undefined) {
    const judged = def.target.on === 'value' ? out.value : def.target.on === 'ratio' ? out.ratio : out.fractionOfLimit;
    const actual = judged === undefined || Number.isNaN(judged.median) ? null : judged.median;
    out.target = { ...def.target, actual, met: actual === null ? null : compare(actual, def.target) };
  }
  if (def.note !== undefined) out.note = def.note;
  return out;
}

/**
 * Collects per-run samples by figure key. A run may leave a figure out (a case not run); a
 * figure with no sample at all is not reported.
 */
export class Runs {
  private readonly samples = new Map<string, Sample[]>();
  private count = 0;

  /** Starts the next run; returns its 1-based number. */
  next(): number {
    return ++this.count;
  }

  add(key: string, sample: Sample): void {
    let list = this.samples.get(key);
    if (list === undefined) this.samples.set(key, (list = []));
    list.push(sample);
  }

  figures(defs: readonly FigureDef[]): Figure[] {
    const out: Figure[] = [];
    for (const def of defs) {
      const samples = this.samples.get(def.key);
      if (samples !== undefined && samples.length > 0) out.push(figure(def, samples));
    }
    return out;
  }
}

// ------------------------------------------------------------------------------- formatting

/** A GitHub-flavoured markdown table; every cell is stringified as is. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header.map(String), ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(cells[0]!), sep, ...cells.slice(1).map(line)].join('\n');
}

/** A number for a table: grouped thousands from 1,000 up, else three significant digits. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs === 0) return '0';
  return Number(value.toPrecision(3)).toString();
}

function formatSpread(s: Spread, unit = ''): string {
  const u = unit === '' ? '' : ` ${unit}`;
  if (s.values.length === 1) return `${formatNumber(s.median)}${u}`;
  return `${formatNumber(s.median)}${u} (${formatNumber(s.min)}–${formatNumber(s.max)})`;
}

function formatTarget(f: Figure): string {
  if (f.target === undefined) return '—';
  const t = f.target;
  const op = t.op === '>=' ? '≥' : '≤';
  if (t.on === 'value') return `${op} ${formatNumber(t.threshold)} ${f.unit}`;
  if (t.on === 'ratio') return `${op} ${formatNumber(t.threshold)}× baseline`;
  return `${op} ${formatNumber(t.threshold)} of limit`;
}

function formatMet(met: boolean | null | undefined): string {
  if (met === undefined) return '—';
  if (met === null) return 'n/a';
  return met ? 'met' : '**missed**';
}

/**
 * One markdown table: each cell is the median of the runs with (min–max) beside it.
 * Columns: figure, measured, baseline, ratio, limit, fraction of the limit, target, verdict.
 */
export function figuresTable(figures: readonly Figure[]): string {
  return markdownTable(
    ['figure', 'measured', 'baseline', 'ratio', 'limit', 'of limit', 'target', 'verdict'],
    figures.map((f) => [
      f.label,
      formatSpread(f.value, f.unit),
      f.baseline === undefined ? '—' : `${f.baseline.label}: ${formatSpread(f.baseline, f.baseline.unit)}`,
      f.ratio === undefined ? '—' : `${formatSpread(f.ratio)}×`,
      f.limit === undefined ? '—' : `${f.limit.label}: ${formatSpread(f.limit, f.limit.unit)}`,
      f.fractionOfLimit === undefined ? '—' : formatSpread(f.fractionOfLimit),
      formatTarget(f),
      formatMet(f.target?.met),
    ]),
  );
}

/** True unless some judged target was missed. */
export function targetsMet(figures: readonly Figure[]): boolean {
  return figures.every((f) => f.target?.met !== false);
}
