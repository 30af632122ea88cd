/**
 * Builds a data directory of N sessions for the scale benchmark, fast (bench/dataset.ts):
 *
 *   npx tsx scripts/build-dataset.ts --dir /tmp/sa-100k [--sessions 100000]
 *   npm run bench -- scale --dataset /tmp/sa-100k
 *
 * Central rows (one agent group `ag-bench`, one messaging group `mg-bench`, N per-thread sessions
 * on threads t-0 … t-(N-1) with their resolution keys) go in one transaction; each session folder
 * gets inbox/, outbox/ and the bytes of one template inbound.db/outbound.db pair made with the real
 * schemas (each a file of its own: never a hard link). Refuses a directory that holds a v2.db.
 */
import { buildDataset } from '../bench/dataset.js';

function usage(): never {
  process.stderr.write('usage: npx tsx scripts/build-dataset.ts --dir DIR [--sessions N]\n');
  process.exit(2);
}

let dir: string | undefined;
let sessions = 100_000;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  if (arg === '--dir') dir = argv[++i];
  else if (arg === '--sessions') {
    sessions = Number(argv[++i]);
    if (!Number.isInteger(sessions) || sessions < 0) usage();
  } else usage();
}
if (dir === undefined || dir === '') usage();

try {
  const ds = buildDataset({ dataDir: dir, sessions });
  process.stdout.write(
    `${sessions} sessions in ${dir}: central rows ${ds.seconds.central.toFixed(2)} s, folders ${ds.seconds.folders.toFixed(2)} s, total ${ds.seconds.total.toFixed(2)} s\n`,
  );
} catch (error) {
  process.stderr.write(`build-dataset: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
