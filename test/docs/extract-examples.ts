/**
 * The ```ts code blocks of a Markdown page, as programs: each with the heading it sits under, its
 * line, whether it runs (` ```ts ` ) or is only type-checked (` ```ts norun `), and its source with
 * the package's own import specifiers pointed at the checkout's TypeScript source.
 *
 * Invariants (guarded by test/docs/extract-examples.test.ts):
 * 1. Every fence whose info string starts with `ts` is a block; any word after `ts` other than
 *    `norun` is refused, so a misspelt marker cannot silently turn a runnable block into text
 *    ("refuses a misspelt marker …").
 * 2. `session-actors` and `session-actors/<entry>` are mapped through the `exports` of
 *    package.json (`./dist/<path>.js` → `<root>/<path>.ts`); an import of an entry the package
 *    does not export is refused, so an example cannot use a path a user could not import
 *    ("refuses an import of an entry point the package does not export").
 * 3. An unterminated fence is refused, as it would swallow the rest of the page ("refuses a
 *    fence that is never closed").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Example {
  /** 1-based line of the opening fence in the page. */
  line: number;
  /** The headings above the block, outermost first (`API reference › Runtime › rt.wake(id)`). */
  heading: string;
  /** False for ```ts norun: type-checked, never executed. */
  runs: boolean;
  /** The block as written. */
  code: string;
}

const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;

/** Splits `markdown` into its ```ts examples (invariants 1 and 3). */
export function extractExamples(markdown: string): Example[] {
  const lines = markdown.split('\n');
  const headings: string[] = [];
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (open === null) {
      const heading = /^(#{1,6})\s+(.*)$/.exec(lines[i]!);
      if (heading !== null) {
        headings.length = heading[1]!.length - 1;
        headings.push(heading[2]!.trim());
      }
      continue;
    }
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    // Closed by a line of the same character, at least as long, and nothing else (CommonMark).
    const close = new RegExp(`^\\s*\\${fence[0]}{${fence.length},}\\s*$`);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!;
      if (close.test(line)) break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line);
    }
    if (j === lines.length) throw new Error(`line ${i + 1}: the code fence is never closed`);
    const words = info.trim().split(/\s+/);
    if (words[0] === 'ts') {
      const extra = words.slice(1);
      if (extra.some((w) => w !== 'norun')) {
        throw new Error(`line ${i + 1}: unknown marker after ts: ${extra.join(' ')} (only "norun" is known)`);
      }
      examples.push({
        line: i + 1,
        heading: headings.filter((h) => h !== undefined).join(' › '),
        runs: !extra.includes('norun'),
        code: body.join('\n'),
      });
    }
    i = j;
  }
  return examples;
}

/** `session-actors…` specifier → absolute path of the TypeScript source file it stands for. */
export function packageEntries(root: string): Map<string, string> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string | { default?: string }>;
  };
  const entries = new Map<string, string>();
  for (const [key, target] of Object.entries(pkg.exports)) {
    const file = typeof target === 'string' ? target : target.default;
    if (file === undefined || !file.startsWith('./dist/') || !file.endsWith('.js')) continue;
    const specifier = key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`;
    entries.set(specifier, join(root, file.slice('./dist/'.length, -'.js'.length) + '.ts'));
  }
  return entries;
}

/**
 * The block's source with every `'session-actors…'` import specifier replaced by the absolute
 * path of its source file, written with `.js` as both tsx and TypeScript's NodeNext resolution
 * read it (invariant 2).
 */
export function pointAtSource(code: string, entries: ReadonlyMap<string, string>, name: string): string {
  return code.replace(
    /(from\s+|import\s*\(\s*)(['"])(session-actors(?:\/[^'"]*)?)\2/g,
    (_m, lead: string, q: string, spec: string) => {
      const file = entries.get(spec);
      if (file === undefined) throw new Error(`${name}: imports ${spec}, which the package does not export`);
      return `${lead}${q}${file.replace(/\.ts$/, '.js')}${q}`;
    },
  );
}
