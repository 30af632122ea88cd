import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registryMachine } from '../../machines/registry.machine.js';
import { sessionMachine } from '../../machines/session.machine.js';
import { toMermaid, toSVG } from '../../src/viz/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) => m[1]);
const image = (name: string) => readFileSync(new URL(`../../docs/images/${name}`, import.meta.url), 'utf8');

describe('README statechart diagrams', () => {
  it('show the session and registry machines exactly as toMermaid prints them', () => {
    expect(blocks).toContain(toMermaid(sessionMachine).trimEnd());
    expect(blocks).toContain(toMermaid(registryMachine).trimEnd());
  });

  it('are committed as the SVG toSVG renders (docs/images), the same drawing the dashboard serves', async () => {
    expect(image('session-machine.svg')).toBe(await toSVG(sessionMachine));
    expect(image('registry-machine.svg')).toBe(await toSVG(registryMachine));
  });
});
