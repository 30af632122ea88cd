/**
 * `session-actors replay FILE --dashboard`: replays the log once (buildReplayTimeline), then
 * serves the replay page over it, opened at the first divergent record if there is one, until
 * interrupted. Exit 1 when the replay diverged, as the text replay does (test/dashboard/cli.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { replaySource } from '../dashboard/replay-source.js';
import { buildReplayTimeline, type ReplayTimeline } from '../eventlog/replay-timeline.js';
import { UsageError } from './command.js';
import type { CliIO } from './io.js';
import { openDashboard, untilInterrupted } from './serve-dashboard.js';

export async function replayDashboard(
  file: string,
  options: { dataDir: string | undefined; port: number },
  io: CliIO,
): Promise<number> {
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'session-actors-replay-'));
  let timeline: ReplayTimeline;
  try {
    timeline = await buildReplayTimeline(file, { dataDir: dir });
  } catch (error) {
    throw new UsageError(`cannot replay ${file}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    // Everything the page shows is in the timeline: the scratch directory is no longer needed.
    if (options.dataDir === undefined) rmSync(dir, { recursive: true, force: true });
  }
  const d = timeline.divergence;
  io.stdout.write(
    `event log ${resolve(file)}\n  ${timeline.records.length} records, ${timeline.sessions.length} sessions, ${timeline.changes.length} changes\n`,
  );
  io.stdout.write(
    d === null
      ? 'replay matches the recorded run\n'
      : `replay diverges at record ${d.index} (line ${d.line}): ${d.what}; the page opens there\n`,
  );
  const served = await openDashboard(
    replaySource(timeline, { title: `replay · ${basename(file)}` }),
    { port: options.port },
    io,
  );
  io.stdout.write('Ctrl-C stops\n');
  await untilInterrupted();
  await served.close();
  return d === null ? 0 : 1;
}
