import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createHash } from 'node:crypto';

/** Every entry under `root` (relative path → kind, size and content hash), for before/after comparisons. */
export function snapshotTree(root: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(root, path);
      if (skip(rel)) continue;
      const st = lstatSync(path);
      if (st.isDirectory()) {
        out.set(rel, 'dir');
        walk(path);
      } else if (st.isFile()) {
        out.set(rel, `file ${st.size} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
      } else {
        out.set(rel, st.isSymbolicLink() ? 'symlink' : 'other');
      }
    }
  };
  walk(root);
  return out;
}
