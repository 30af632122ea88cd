/**
 * A cheap snapshot of a directory tree for comparisons after every call of a long sequence: each
 * entry's kind, inode, size and change time (nanoseconds) from one `lstat`, no file read. Any write
 * to a file, any replacement, any change of its metadata moves its ctime, so two snapshots differ
 * at every entry something touched in between (test/helpers/tree.ts hashes contents instead).
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export type TreeStat = Map<string, string>;

/** Every entry under `root` by path relative to it (`/`-separated). */
export function statTree(root: string): TreeStat {
  const out: TreeStat = new Map();
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = prefix === '' ? name : `${prefix}/${name}`;
      const st = lstatSync(path, { bigint: true });
      if (st.isDirectory()) {
        out.set(rel, `dir ${st.ino}`);
        walk(path, rel);
      } else if (st.isFile()) {
        out.set(rel, `file ${st.ino} ${st.size} ${st.ctimeNs} ${st.nlink}`);
      } else if (st.isSymbolicLink()) {
        out.set(rel, `symlink ${readlinkSync(path)}`);
      } else {
        out.set(rel, `other ${st.mode}`);
      }
    }
  };
  walk(root, '');
  return out;
}

/** Paths added, removed or changed between two snapshots, sorted. */
export function changedPaths(before: TreeStat, after: TreeStat): string[] {
  const out: string[] = [];
  for (const [rel, v] of after) if (before.get(rel) !== v) out.push(rel);
  for (const rel of before.keys()) if (!after.has(rel)) out.push(rel);
  return out.sort();
}
