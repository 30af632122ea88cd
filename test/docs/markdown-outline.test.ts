import { describe, expect, it } from 'vitest';
import { links, outline, renderedText, sectionOf, slug } from './markdown-outline.js';

describe('GitHub anchors', () => {
  it.each([
    ['createRuntime(options) → Promise\\<Runtime>', 'createruntimeoptions--promiseruntime'],
    ['rt.inspect(observer) → { unsubscribe() }', 'rtinspectobserver---unsubscribe-'],
    ['`session.created`', 'sessioncreated'],
    ['CONTAINER_RUNNING', 'container_running'],
    ['Test kit: session-actors/testing', 'test-kit-session-actorstesting'],
    ['[docs/agent.md](agent.md) and more', 'docsagentmd-and-more'],
  ])('%s → #%s', (heading, anchor) => {
    expect(slug(renderedText(heading))).toBe(anchor);
  });

  it('numbers repeated headings as GitHub does', () => {
    const doc = outline('## Options\n### Options\n#### Options\n');
    expect(doc.headings.map((h) => h.anchor)).toEqual(['options', 'options-1', 'options-2']);
  });
});

describe('outline', () => {
  const page = ['# A', 'see [b](#b)', '```ts', '# not a heading', '[c](#c)', '```', '## B', 'text', '# C'].join('\n');

  it('leaves code blocks out of the headings, the prose and the links', () => {
    const doc = outline(page);
    expect(doc.headings.map((h) => [h.text, h.line])).toEqual([
      ['A', 1],
      ['B', 7],
      ['C', 9],
    ]);
    expect(links(doc)).toEqual([{ line: 2, target: '#b' }]);
  });

  it('gives the prose of a section up to the next heading of its level or above', () => {
    const doc = outline(page);
    expect(sectionOf(doc, doc.headings[0]!)).toBe('see [b](#b)\n## B\ntext');
    expect(sectionOf(doc, doc.headings[1]!)).toBe('text');
  });
});
