import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_HELD_DIRS, removeEntry } from '../../src/files/remove-entry.js';
import { plantFifo } from '../fixtures/store/hostile-files.js';
import { useTempDirs } from '../fixtures/files/temp-dirs.js';

const tempDir = useTempDirs('session-actors-remove-');

/** A session-like folder with a target entry `x`, and an outside dir holding a file that must survive. */
function fixture() {
  const root = tempDir();
  const dir = join(root, 'session');
  const outside = join(root, 'outside');
  mkdirSync(dir);
  mkdirSync(join(outside, 'sub'), { recursive: true });
  writeFileSync(join(outside, 'secret'), 'secret');
  writeFileSync(join(outside, 'sub', 'deep-secret'), 'deep');
  return { root, dir, outside, target: join(dir, 'x') };
}

function outsideIntact(outside: string): void {
  expect(readdirSync(outside).sort()).toEqual(['secret', 'sub']);
  expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
  expect(readFileSync(join(outside, 'sub', 'deep-secret'), 'utf8')).toBe('deep');
}

describe('removeEntry', () => {
  it('removes a regular file, and a missing path is fine', () => {
    const f = fixture();
    writeFileSync(f.target, 'x');
    removeEntry(f.target);
    expect(existsSync(f.target)).toBe(false);
    expect(() => removeEntry(f.target)).not.toThrow();
  });

  it('removes only the link of a symlink to a directory', () => {
    const f = fixture();
    symlinkSync(f.outside, f.target);
    removeEntry(f.target);
    expect(existsSync(f.target)).toBe(false);
    outsideIntact(f.outside);
  });

  it('removes only its own name of a hard-linked file', () => {
    const f = fixture();
    linkSync(join(f.outside, 'secret'), f.target);
    removeEntry(f.target);
    expect(existsSync(f.target)).toBe(false);
    expect(statSync(join(f.outside, 'secret')).nlink).toBe(1);
    outsideIntact(f.outside);
  });

  it('removes a FIFO without opening it', () => {
    const f = fixture();
    plantFifo(f.target);
    removeEntry(f.target);
    expect(existsSync(f.target)).toBe(false);
  });

  it('removes a tree full of links without touching their targets', () => {
    const f = fixture();
    mkdirSync(join(f.target, 'a', 'b'), { recursive: true });
    writeFileSync(join(f.target, 'a', 'file'), 'x');
    symlinkSync(f.outside, join(f.target, 'dir-link'));
    symlinkSync(join(f.outside, 'secret'), join(f.target, 'a', 'file-link'));
    symlinkSync(join(f.outside, 'sub'), join(f.target, 'a', 'b', 'sub-link'));
    linkSync(join(f.outside, 'sub', 'deep-secret'), join(f.target, 'a', 'b', 'hard'));
    removeEntry(f.target);
    expect(existsSync(f.target)).toBe(false);
    outsideIntact(f.outside);
  });

  it('removes a tree deeper than the descriptor budget', () => {
    const f = fixture();
    const levels = MAX_HELD_DIRS * 3 + 5;
    let deepest = f.target;
    for (let i = 0; i < levels; i++) deepest = join(deepest, 'd');
    mkdirSync(deepest, { recursive: true });
    writeFileSync(join(deepest, 'leaf'), 'leaf');
    symlinkSync(f.outside, join(deepest, 'link'));
    removeEntry(f.target);
    expect(existsSync(f.target)).toBe(false);
    expect(readdirSync(f.dir)).toEqual([]);
    outsideIntact(f.outside);
  });

  it('a directory swapped for a symlink during the walk is not followed', () => {
    const f = fixture();
    mkdirSync(join(f.target, 'a'), { recursive: true });
    writeFileSync(join(f.target, 'a', 'mine'), 'mine');
    let swapped = false;
    removeEntry(f.target, {
      afterOpenDir: (path) => {
        // Once `a` is open, the container moves it away and puts a link to the outside in its place.
        if (path !== join(f.target, 'a') || swapped) return;
        swapped = true;
        renameSync(path, join(f.target, 'a-moved'));
        symlinkSync(f.outside, path);
      },
    });
    expect(swapped).toBe(true);
    expect(existsSync(f.target)).toBe(false);
    outsideIntact(f.outside);
  });
});
