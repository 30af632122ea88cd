/**
 * The package as a user gets it: a copy of the sources is packed with `npm pack` (its `prepack`
 * runs the clean build), the tarball is unpacked into fresh user projects — ESM, CommonJS and
 * TypeScript — and each project runs. Dependencies are symlinked from this checkout's
 * node_modules (better-sqlite3 is already built there); the package itself is only ever the
 * unpacked tarball, which each project proves by resolving it inside its own folder.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_PROJECTS } from './consumer-projects.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

interface PackageJson {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  exports: Record<string, string | { types?: string; default?: string }>;
  bin: Record<string, string>;
}

let work: string;
let tarball: string;
let entries: string[];
let pkg: PackageJson;
/** The tarball unpacked once, for the checks on its content. */
let unpacked: string;

function run(command: string, args: string[], cwd: string, timeout = 120_000): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', NO_COLOR: '1' },
  });
  if (result.status !== 0) {
    const how =
      result.status === null ? `did not exit within ${timeout} ms (${result.signal})` : `exited ${result.status}`;
    throw new Error(`${command} ${args.join(' ')} ${how}:\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

/** Whether the package in `dir` carries its own type declarations. */
function shipsTypes(dir: string): boolean {
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  return (
    meta.types !== undefined ||
    meta.typings !== undefined ||
    JSON.stringify(meta.exports ?? null).includes('"types"') ||
    existsSync(join(dir, 'index.d.ts'))
  );
}

/** Unpacks the tarball as `<dir>/node_modules/session-actors` and links its dependencies. */
function install(dir: string): void {
  const target = join(dir, 'node_modules', 'session-actors');
  mkdirSync(target, { recursive: true });
  run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], dir);
  for (const dep of Object.keys(pkg.dependencies)) {
    const link = join(dir, 'node_modules', dep);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(realpathSync(join(root, 'node_modules', dep)), link, 'dir');
  }
  // What npm does on install: the bin, executable, linked into node_modules/.bin.
  for (const [name, file] of Object.entries(pkg.bin)) {
    chmodSync(join(target, file), 0o755);
    mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(join('..', 'session-actors', file), join(dir, 'node_modules', '.bin', name));
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sa-pack-'));
  // Pack a copy, so the build neither races nor disturbs this checkout's own dist/.
  const source = join(work, 'source');
  for (const dir of ['src', 'machines', 'bench', 'docs', 'scripts'])
    cpSync(join(root, dir), join(source, dir), { recursive: true });
  for (const file of ['package.json', 'README.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json'])
    cpSync(join(root, file), join(source, file));
  symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'), 'dir');
  pkg = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')) as PackageJson;
  run('npm', ['pack', '--pack-destination', work, '--offline'], source);
  tarball = join(work, `${pkg.name}-${pkg.version}.tgz`);
  entries = run('tar', ['-tzf', tarball], work)
    .stdout.split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/^package\//, ''));
  unpacked = join(work, 'content');
  install(unpacked);
}, 180_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('holds the build, the reference agent, the docs, the README and the LICENSE', () => {
    for (const file of [
      'package.json',
      'README.md',
      'LICENSE',
      'docs/event-log.md',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli.js',
      'dist/src/container/agent/main.js',
      'dist/machines/index.js',
      'dist/machines/index.d.ts',
      'dist/src/testing/index.js',
      'dist/src/testing/index.d.ts',
    ])
      expect(entries, file).toContain(file);
    const license = readFileSync(join(unpacked, 'node_modules/session-actors/LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 session-actors contributors\n/);
  });

  it('ships every static asset of src/**/assets/ at the same place under dist/src/', () => {
    const source = join(work, 'source');
    const assets = (readdirSync(join(source, 'src'), { recursive: true }) as string[])
      .map((p) => join('src', p))
      .filter((p) => /(^|\/)assets\//.test(p) && statSync(join(source, p)).isFile());
    for (const asset of assets) expect(entries, asset).toContain(join('dist', asset));
  });

  it('holds nothing else: no benchmarks, sources, tests, configs or source maps', () => {
    const stray = entries.filter(
      (e) => !/^(package\.json|README\.md|LICENSE|docs\/.+|dist\/(src|machines)\/.+)$/.test(e) || e.endsWith('.map'),
    );
    expect(stray).toEqual([]);
    expect(entries.filter((e) => e.startsWith('dist/bench'))).toEqual([]);
  });

  it('ships no file left over from an older build: every module has its source', () => {
    const orphans = entries
      .filter((e) => e.startsWith('dist/') && (e.endsWith('.js') || e.endsWith('.d.ts')))
      .filter((e) => !e.includes('/assets/'))
      .map((e) => e.replace(/^dist\//, '').replace(/(\.d\.ts|\.js)$/, '.ts'))
      .filter((source) => !existsSync(join(root, source)));
    expect(orphans).toEqual([]);
  });

  it('points every export at files it ships, with types first', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') {
        expect(entries, subpath).toContain(target.replace(/^\.\//, ''));
        continue;
      }
      expect(Object.keys(target)[0], subpath).toBe('types');
      expect(entries, subpath).toContain(target.types!.replace(/^\.\//, ''));
      expect(entries, subpath).toContain(target.default!.replace(/^\.\//, ''));
    }
  });

  it('declarations reachable from the entry points import only Node built-ins and dependencies that ship types', () => {
    const pkgDir = join(unpacked, 'node_modules/session-actors');
    // A dependency without its own declarations would need an @types package the user lacks.
    const typed = Object.keys(pkg.dependencies).filter((dep) => shipsTypes(join(root, 'node_modules', dep)));
    const allowed = new Set([...typed, ...builtinModules]);
    const seen = new Set<string>();
    const outside: string[] = [];
    const stack = Object.values(pkg.exports).flatMap((t) =>
      typeof t === 'object' && t.types !== undefined ? [resolve(pkgDir, t.types)] : [],
    );
    while (stack.length > 0) {
      const file = stack.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const [, spec] of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g)) {
        if (spec!.startsWith('.')) {
          const next = resolve(dirname(file), spec!.replace(/\.js$/, '.d.ts'));
          expect(next.startsWith(pkgDir), `${relative(pkgDir, file)} imports ${spec}`).toBe(true);
          stack.push(next);
          continue;
        }
        const name = spec!.startsWith('node:')
          ? spec!.slice(5)
          : spec!.startsWith('@')
            ? spec!.split('/').slice(0, 2).join('/')
            : spec!.split('/')[0]!;
        if (!allowed.has(name)) outside.push(`${relative(pkgDir, file)} imports ${spec}`);
      }
    }
    expect(seen.size).toBeGreaterThan(5);
    expect(outside).toEqual([]);
  });
});

describe('installed into a user project', () => {
  /** tsc's outcome per TypeScript project: the compiles run side by side in beforeAll. */
  const compiled = new Map<string, { code: number | null; output: string }>();

  beforeAll(async () => {
    for (const project of CONSUMER_PROJECTS) {
      const dir = join(work, project.name);
      for (const [file, text] of Object.entries(project.files)) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        writeFileSync(join(dir, file), text);
      }
      install(dir);
      if (project.typescript) {
        // Only Node's types: the package's declarations must not need any other @types package.
        mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
        symlinkSync(realpathSync(join(root, 'node_modules/@types/node')), join(dir, 'node_modules/@types/node'), 'dir');
      }
    }
    await Promise.all(
      CONSUMER_PROJECTS.filter((p) => p.typescript).map(
        (project) =>
          new Promise<void>((done) => {
            const dir = join(work, project.name);
            const child = spawn(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir });
            let output = '';
            child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
            child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
            child.on('close', (code) => {
              compiled.set(project.name, { code, output });
              done();
            });
          }),
      ),
    );
  }, 180_000);

  /** Runs the project's program and returns the JSON line it printed last. */
  function runProject(name: string): Record<string, unknown> {
    const project = CONSUMER_PROJECTS.find((p) => p.name === name)!;
    const dir = join(work, project.name);
    if (project.typescript) expect(compiled.get(name), 'tsc').toEqual({ code: 0, output: '' });
    // A program that is still running after 20 s has its work done long ago (1–2 s): something keeps
    // its event loop alive after `close()`.
    const { stdout } = run(process.execPath, [join(dir, project.main)], dir, 20_000);
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  }

  it('ESM: imports the package and a real reference agent answers to a recording channel', () => {
    const out = runProject('esm');
    expect(realpathSync(out.resolved as string)).toBe(
      realpathSync(join(work, 'esm/node_modules/session-actors/dist/src/index.js')),
    );
    expect(out.seq).toBe(2);
    expect(out.delivered).toEqual([{ channelType: 'slack', platformId: 'C1', content: { text: 'echo: hello' } }]);
  });

  it('CommonJS: require() of the package, its machines and its package.json', () => {
    const out = runProject('cjs');
    expect(realpathSync(out.resolved as string)).toBe(
      realpathSync(join(work, 'cjs/node_modules/session-actors/dist/src/index.js')),
    );
    expect(out).toMatchObject({
      version: pkg.version,
      sessionId: 'sess-1',
      seq: 2,
      counts: { messagesIn: 1, messagesOut: 0, delivered: 0, failed: 0 },
      code: 'INVALID_ID',
      machine: 'session',
      testing: 'function',
    });
  });

  it.each(['ts-nodenext-esm', 'ts-nodenext-cjs', 'ts-bundler'])(
    'TypeScript (%s, strict, skipLibCheck false): compiles against the declarations and runs',
    (name) => {
      const out = runProject(name);
      expect(out).toEqual({
        seq: 2,
        duplicate: false,
        again: { seq: 2, duplicate: true },
        counts: { messagesIn: 1, messagesOut: 0, delivered: 0, failed: 0 },
        machine: 'session',
        env: true,
        driver: 'function',
        kit: [{ text: 'ok hi' }],
      });
    },
  );

  it('the bin runs from node_modules/.bin: --version, and a usage error exits 2', () => {
    const dir = unpacked;
    const bin = join(dir, 'node_modules/.bin/session-actors');
    expect(run(bin, ['--version'], dir).stdout).toBe(`${pkg.version}\n`);
    const bad = spawnSync(bin, ['viz', '--machine', 'foo'], { cwd: dir, encoding: 'utf8' });
    expect([bad.status, bad.stderr]).toEqual([
      2,
      'session-actors viz: unknown machine "foo" (expected session or registry)\n',
    ]);
    expect(run(bin, ['viz', '--machine', 'registry'], dir).stdout).toMatch(/^stateDiagram-v2/);
  });

  it('the checkout itself is never what runs: no session-actors in its node_modules', () => {
    expect(existsSync(join(root, 'node_modules/session-actors'))).toBe(false);
    expect(readdirSync(join(unpacked, 'node_modules/session-actors')).sort()).toEqual(
      [...new Set(entries.map((e) => e.split('/')[0]!))].sort(),
    );
  });
});
