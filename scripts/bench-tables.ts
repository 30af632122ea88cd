/**
 * Prints the README's performance tables from the last full `npm run bench`
 * (bench/results/<name>.json): one markdown table per bench, each cell the median of the runs
 * with (min–max), exactly as the bench printed them.
 *
 *   node --import tsx scripts/bench-tables.ts            # every bench, in run order
 *   node --import tsx scripts/bench-tables.ts ingest e2e
 *   node --import tsx scripts/bench-tables.ts --readme   # rewrite README.md between its bench markers
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { figuresTable, type Figure } from '../bench/figures.js';

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'bench', 'results');
const ORDER = ['disk', 'ingest', 'poll', 'resolve', 'scale', 'e2e', 'replay'];

interface Results {
  runs: number;
  figures: Figure[];
  env: { node: string; cpuModel: string; cpuCount: number; date: string; loadAvg: number[] };
}

const args = process.argv.slice(2);
const readme = args.includes('--readme');
const wanted = args.filter((a) => a !== '--readme');
let out = '';
for (const name of wanted.length > 0 ? wanted : ORDER) {
  const path = join(RESULTS, `${name}.json`);
  if (!existsSync(path)) {
    process.stderr.write(`no results for ${name} (${path}); run npm run bench -- --only ${name}\n`);
    process.exitCode = 1;
    continue;
  }
  const r = JSON.parse(readFileSync(path, 'utf8')) as Results;
  const { env } = r;
  out +=
    `#### ${name}\n\n${r.runs} runs, ${env.date.slice(0, 16).replace('T', ' ')} UTC, node ${env.node}, ` +
    `${env.cpuCount} × ${env.cpuModel}, load ${env.loadAvg.map((l) => l.toFixed(2)).join(' ')}\n\n` +
    `${figuresTable(r.figures)}\n\n`;
}
if (readme) {
  const file = join(RESULTS, '..', '..', 'README.md');
  const text = readFileSync(file, 'utf8');
  const start = '<!-- bench-tables:start -->';
  const end = '<!-- bench-tables:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a === -1 || b < a) throw new Error(`README.md has no ${start} … ${end} block`);
  writeFileSync(file, `${text.slice(0, a + start.length)}\n\n${out}${text.slice(b)}`);
} else {
  process.stdout.write(out);
}
