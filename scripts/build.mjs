#!/usr/bin/env node
/**
 * `npm run build`: compiles the package with tsc (tsconfig.build.json) into `dist/`, then copies
 * every folder named `assets` under `src/` (static files: HTML, CSS, browser scripts, fonts) to
 * the same place under `dist/src/`, so code at `dist/src/<x>/` finds `./assets/` beside it just
 * as the source does. `--clean` removes `dist/` first (`prepack` uses it: a tarball never ships a
 * file left over from an older build). Exits non-zero when tsc reports an error.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');

if (process.argv.includes('--clean')) rmSync(dist, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

/** Every `assets` folder under `dir`, as absolute paths (not descending into one). */
function assetFolders(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    if (entry.name === 'assets') found.push(path);
    else found.push(...assetFolders(path));
  }
  return found;
}

for (const folder of assetFolders(join(root, 'src'))) {
  cpSync(folder, join(dist, relative(root, folder)), { recursive: true, dereference: true });
}
