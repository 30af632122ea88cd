import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.js';
import { findUnexportedPublicTypes } from './public-types.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tmp = useTmpDir('sa-public-types-');

describe('the public signatures', () => {
  it('name only types that an entry point exports', () => {
    // The source of every entry point of package.json's exports (`./dist/src/x.js` ← `src/x.ts`).
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, string | { default: string }>;
    };
    const entries = Object.values(pkg.exports)
      .flatMap((target) => (typeof target === 'string' ? [] : [target.default]))
      .map((js) => join(root, js.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts')));
    expect(entries).toContain(join(root, 'src/index.ts'));
    expect(findUnexportedPublicTypes(root, entries)).toEqual([]);
  });

  it('the check finds a type used in a signature but not exported, and ignores private and internal members', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'src'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext' } }),
    );
    writeFileSync(
      join(dir, 'src/internal.ts'),
      [
        'export interface Counts { n: number }',
        'export interface Hidden { h: number }',
        'export interface AlsoHidden { a: number }',
        'export interface Named { x: number }',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'src/index.ts'),
      [
        "import type { AlsoHidden, Counts, Hidden, Named } from './internal.js';",
        'export type NamedAlias = Named;',
        'export class Thing {',
        '  private readonly secret: Hidden = { h: 1 };',
        '  /** @internal */ readonly inner: AlsoHidden = { a: 1 };',
        '  counts(): Promise<Counts> { return Promise.resolve({ n: this.secret.h + this.inner.a }); }',
        '  named(): Named { return { x: 1 }; }',
        '}',
      ].join('\n'),
    );
    const found = findUnexportedPublicTypes(dir, [join(dir, 'src/index.ts')]);
    expect(found).toEqual([{ name: 'Counts', file: 'src/internal.ts', via: expect.stringMatching(/counts → return/) }]);
  });
});
