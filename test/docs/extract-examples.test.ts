import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { extractExamples, packageEntries, pointAtSource } from './extract-examples.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const fence = '```';

describe('extractExamples', () => {
  it('extracts ts blocks with their heading path and line, norun ones marked', () => {
    const page = [
      '# Title',
      '## Part',
      `${fence}ts`,
      'run();',
      fence,
      '### Entry',
      `${fence}ts norun`,
      'check();',
      fence,
      `${fence}sh`,
      'echo not an example',
      fence,
    ].join('\n');
    expect(extractExamples(page)).toEqual([
      { line: 3, heading: 'Title › Part', runs: true, code: 'run();' },
      { line: 7, heading: 'Title › Part › Entry', runs: false, code: 'check();' },
    ]);
  });

  it('does not take a heading inside a code block for one', () => {
    const page = ['## Real', `${fence}sh`, '# a shell comment', fence, `${fence}ts`, 'x();', fence].join('\n');
    expect(extractExamples(page)[0]!.heading).toBe('Real');
  });

  it('refuses a misspelt marker instead of treating the block as text', () => {
    expect(() => extractExamples(`${fence}ts nurun\nx();\n${fence}`)).toThrow(/line 1: unknown marker after ts: nurun/);
  });

  it('refuses a fence that is never closed', () => {
    expect(() => extractExamples(`# T\n${fence}ts\nx();\n`)).toThrow(/line 2: the code fence is never closed/);
  });
});

describe('pointAtSource', () => {
  const entries = packageEntries(ROOT);

  it('maps every entry point of package.json to its TypeScript source', () => {
    expect(entries.get('session-actors')).toBe(`${ROOT}src/index.ts`);
    expect(entries.get('session-actors/testing')).toBe(`${ROOT}src/testing/index.ts`);
    expect(entries.get('session-actors/machines')).toBe(`${ROOT}machines/index.ts`);
  });

  it('rewrites static and dynamic imports of the package, and nothing else', () => {
    const code = [
      "import { createRuntime } from 'session-actors';",
      'import { turn } from "session-actors/testing";',
      "const m = await import('session-actors/machines');",
      "import { SimulatedClock } from 'xstate';",
    ].join('\n');
    expect(pointAtSource(code, entries, 'example').split('\n')).toEqual([
      `import { createRuntime } from '${ROOT}src/index.js';`,
      `import { turn } from "${ROOT}src/testing/index.js";`,
      `const m = await import('${ROOT}machines/index.js');`,
      "import { SimulatedClock } from 'xstate';",
    ]);
  });

  it('refuses an import of an entry point the package does not export', () => {
    expect(() => pointAtSource("import { x } from 'session-actors/src/runtime/runtime.js';", entries, 'ex')).toThrow(
      /ex: imports session-actors\/src\/runtime\/runtime.js, which the package does not export/,
    );
  });
});
