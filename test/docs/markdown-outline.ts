/**
 * The outline of a Markdown page as GitHub renders it: its headings with their anchors, the text
 * outside code blocks, and the links it makes. Used by test/docs/api-coverage.test.ts.
 *
 * Invariants (guarded by test/docs/markdown-outline.test.ts):
 * 1. Anchors follow GitHub's slugger: the heading's rendered text (inline code and links reduced
 *    to their text, backslash escapes resolved), lower-cased, every character that is not a
 *    letter, a digit, a combining mark, `_`, `-` or a space removed, spaces turned into `-`, and
 *    `-1`, `-2`, … appended to repeats ("GitHub anchors").
 * 2. Nothing inside a fenced code block is a heading, prose or a link ("leaves code blocks out …").
 */

export interface Heading {
  level: number;
  /** As written, e.g. ``rt.wake(sessionId) → Promise\<void>``. */
  source: string;
  /** As rendered: `rt.wake(sessionId) → Promise<void>`. */
  text: string;
  anchor: string;
  /** 1-based line. */
  line: number;
}

export interface Outline {
  headings: Heading[];
  /** Every line outside fenced code blocks (headings included), with its 1-based number. */
  prose: { line: number; text: string }[];
}

/** What a heading or link text shows once rendered. */
export function renderedText(markdown: string): string {
  return markdown
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\\(.)/g, '$1')
    .trim();
}

/** GitHub's anchor for a rendered heading text (without the repeat suffix). */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}_\- ]/gu, '')
    .replace(/ /g, '-');
}

export function outline(markdown: string): Outline {
  const headings: Heading[] = [];
  const prose: Outline['prose'] = [];
  const seen = new Map<string, number>();
  let fence: string | null = null;
  markdown.split('\n').forEach((raw, i) => {
    const open = /^\s*(`{3,}|~{3,})/.exec(raw);
    if (fence !== null) {
      // Closed by a line of the fence's character, at least as long, and nothing else.
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(raw);
      if (close !== null && close[1]![0] === fence[0] && close[1]!.length >= fence.length) fence = null;
      return;
    }
    if (open !== null) {
      fence = open[1]!;
      return;
    }
    prose.push({ line: i + 1, text: raw });
    const h = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(raw);
    if (h === null) return;
    const text = renderedText(h[2]!);
    const base = slug(text);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    headings.push({ level: h[1]!.length, source: h[2]!, text, anchor: n === 0 ? base : `${base}-${n}`, line: i + 1 });
  });
  return { headings, prose };
}

/** The lines of the section under `heading` (up to the next heading of its level or above). */
export function sectionOf(doc: Outline, heading: Heading): string {
  const next = doc.headings.find((h) => h.line > heading.line && h.level <= heading.level);
  return doc.prose
    .filter((p) => p.line > heading.line && (next === undefined || p.line < next.line))
    .map((p) => p.text)
    .join('\n');
}

/** Every Markdown link target of the prose: `(target)` of `[text](target)`, with its line. */
export function links(doc: Outline): { line: number; target: string }[] {
  return doc.prose.flatMap(({ line, text }) =>
    [...text.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)].map((m) => ({ line, target: m[1]! })),
  );
}
