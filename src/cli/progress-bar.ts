/**
 * A progress bar redrawn in place on a terminal (test/cli/replay.test.ts "draws a progress bar
 * on stderr only when it is a terminal and the log is long"):
 * 1. Nothing at all is written when the writer is not a terminal.
 * 2. Nothing for short jobs (under `minTotal` steps): they finish in a blink.
 * 3. `clear()` erases the bar's line, so what follows starts on a clean line.
 */
import type { CliWriter } from './io.js';

export interface ProgressBar {
  update(done: number, total: number): void;
  clear(): void;
}

export function progressBar(out: CliWriter, label: string, unit: string, minTotal = 10_000): ProgressBar {
  const enabled = out.isTTY === true;
  const started = Date.now();
  let shown = false;
  return {
    update(done, total) {
      if (!enabled || total < minTotal) return;
      const width = 30;
      const filled = Math.round((done / total) * width);
      const seconds = (Date.now() - started) / 1000;
      out.write(
        `\r\u001b[2K${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor((done / total) * 100)}% ${done}/${total} ${unit} ${seconds.toFixed(1)}s`,
      );
      shown = true;
    },
    clear() {
      if (shown) out.write('\r\u001b[2K');
      shown = false;
    },
  };
}
