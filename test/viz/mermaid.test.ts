import { describe, expect, it } from 'vitest';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { registryMachine, sessionMachine } from '../../machines/index.js';
import { toMermaid } from '../../src/viz/index.js';
import { LEGEND_INTERNAL, LEGEND_REENTER } from '../../src/viz/mermaid.js';
import { describeTransitions } from '../../src/viz/transitions.js';
import { allStateNodes, oddMachine } from './fixtures.js';

const ID = '[A-Za-z0-9_]+';
const LINE_FORMS: RegExp[] = [
  new RegExp(`^\\[\\*\\] --> ${ID}$`),
  new RegExp(`^state "[^"\\n]*" as ${ID}$`),
  new RegExp(`^state ${ID} \\{$`),
  /^\}$/,
  /^--$/,
  new RegExp(`^${ID} --> (${ID}|\\[\\*\\])( : [^:;#\\n]+)?$`),
  new RegExp(`^note right of ${ID}$`),
];

interface Parsed {
  declared: Set<string>;
  referenced: Set<string>;
  /** Composite id → number of `--` separators directly inside it. */
  separators: Map<string, number>;
  edges: { from: string; to: string; label: string }[];
  /** Legend entries under each heading of the note, without the bullet. */
  internal: string[];
  reentering: string[];
}

/**
 * A tiny structural check of the subset of Mermaid's state grammar that toMermaid uses: every
 * line has one of the known forms, braces balance, `--` only appears inside a composite state,
 * and every id an edge uses is declared.
 */
function parseMermaid(text: string): Parsed {
  const lines = text.trimEnd().split('\n');
  expect(lines[0]).toBe('stateDiagram-v2');
  const stack: string[] = [];
  const parsed: Parsed = {
    declared: new Set(),
    referenced: new Set(),
    separators: new Map(),
    edges: [],
    internal: [],
    reentering: [],
  };
  let note: string[] | null = null;
  for (const raw of lines.slice(1)) {
    const line = raw.trim();
    if (note !== null) {
      if (line === 'end note') note = null;
      else if (line === LEGEND_INTERNAL) note = parsed.internal;
      else if (line === LEGEND_REENTER) note = parsed.reentering;
      else {
        expect(line.startsWith('• '), `legend entry without a bullet: ${raw}`).toBe(true);
        note.push(line.slice(2));
      }
      continue;
    }
    if (line.startsWith('note right of ')) {
      note = [];
      continue;
    }
    expect(
      LINE_FORMS.some((form) => form.test(line)),
      `unexpected line: ${raw}`,
    ).toBe(true);
    let m: RegExpMatchArray | null;
    if ((m = /^state (\S+) \{$/.exec(line)) !== null) {
      parsed.declared.add(m[1]!);
      stack.push(m[1]!);
    } else if (line === '}') {
      expect(stack.length, 'unbalanced }').toBeGreaterThan(0);
      stack.pop();
    } else if (line === '--') {
      const owner = stack.at(-1);
      expect(owner, '-- outside a composite state').toBeDefined();
      parsed.separators.set(owner!, (parsed.separators.get(owner!) ?? 0) + 1);
    } else if ((m = /^state "[^"]*" as (\S+)$/.exec(line)) !== null) {
      parsed.declared.add(m[1]!);
    } else if ((m = /^(\S+) --> (\S+)(?: : (.*))?$/.exec(line)) !== null) {
      for (const id of [m[1]!, m[2]!]) if (id !== '[*]') parsed.referenced.add(id);
      parsed.edges.push({ from: m[1]!, to: m[2]!, label: m[3] ?? '' });
    }
  }
  expect(stack, 'unclosed state {').toEqual([]);
  expect(note, 'unclosed note').toBeNull();
  for (const id of parsed.referenced) expect(parsed.declared, `${id} is used but never declared`).toContain(id);
  return parsed;
}

const MACHINES = [
  ['session', sessionMachine],
  ['registry', registryMachine],
  ['odd', oddMachine],
] as [string, AnyStateMachine][];

const mermaidId = (node: AnyStateNode) => node.id.replace(/[^A-Za-z0-9_]/g, '_');
const hasEdge = (p: Parsed, from: string, to: string, label: string) =>
  p.edges.some((e) => e.from === from && e.to === to && e.label === label);

describe('toMermaid', () => {
  it('draws every state of every region of the session machine', () => {
    const p = parseMermaid(toMermaid(sessionMachine));
    const nodes = allStateNodes(sessionMachine);
    expect(nodes.length).toBeGreaterThan(10);
    for (const node of nodes) expect(p.declared).toContain(mermaidId(node));
  });

  it('separates the three parallel regions with -- inside the session composite state', () => {
    const text = toMermaid(sessionMachine);
    const p = parseMermaid(text);
    const regions = Object.keys(sessionMachine.root.states);
    expect(regions).toEqual(['container', 'poller', 'mailbox']);
    expect(p.separators).toEqual(new Map([['session', regions.length - 1]]));
    const body = text.split('\n').map((l) => l.trim());
    const start = body.indexOf('state session {');
    const cut = body.indexOf('--', start);
    expect(body.slice(start, cut)).toContain('state session_container {');
    expect(body.slice(cut)).toContain('state session_poller {');
  });

  it('draws how stopped is left: container.wake (internal, at the root, in the legend) and always [canStart] to starting', () => {
    const p = parseMermaid(toMermaid(sessionMachine));
    expect(p.internal).toContain('session: container.wake [isStoppedPhase] / requestWake');
    expect(hasEdge(p, 'session_container_stopped', 'session_container_starting', 'always [canStart]')).toBe(true);
  });

  it.each(MACHINES)('draws no self-loop in the %s machine: every edge joins two different states', (_name, machine) => {
    const p = parseMermaid(toMermaid(machine));
    for (const e of p.edges) expect(e.from, `${e.from} --> ${e.to} : ${e.label}`).not.toBe(e.to);
  });

  it.each(MACHINES)(
    'shows every transition of the %s machine exactly once: as an edge or a legend entry',
    (_name, machine) => {
      const p = parseMermaid(toMermaid(machine));
      const root = machine.root as AnyStateNode;
      const path = (node: AnyStateNode) => (node === root ? root.id : node.id.slice(root.id.length + 1));
      const byId = new Map(allStateNodes(machine).map((node) => [node.id, node] as const));
      const expectedEdges: string[] = [];
      const expectedLegend: string[] = [];
      for (const node of allStateNodes(machine)) {
        for (const t of describeTransitions(node)) {
          const drawn = t.targets.filter((target) => target !== node.id && !t.internal);
          if (drawn.length > 0) {
            for (const target of drawn)
              expectedEdges.push(
                `${mermaidId(node)} ${mermaidId(byId.get(target)!)} ${t.label.replace(/[:;]/g, ' ').replace(/\s+/g, ' ')}`,
              );
          } else {
            expectedLegend.push(`${path(node)}: ${t.label}`);
          }
        }
      }
      const uniqueIds = new Set(allStateNodes(machine).map(mermaidId)).size === allStateNodes(machine).length;
      if (uniqueIds) {
        expect(
          p.edges.filter((e) => e.to !== '[*]' && e.from !== '[*]').map((e) => `${e.from} ${e.to} ${e.label}`),
        ).toEqual(expectedEdges);
      } else {
        expect(p.edges.filter((e) => e.to !== '[*]' && e.from !== '[*]')).toHaveLength(expectedEdges.length);
      }
      const legend = [...p.internal, ...p.reentering].map((entry) => entry.replace(/ (\/|->) .*$/, ''));
      expect(legend.sort()).toEqual(expectedLegend.sort());
    },
  );

  it('tells internal transitions from re-entering ones', () => {
    const p = parseMermaid(toMermaid(sessionMachine));
    expect(p.internal).toEqual([
      'session: mailbox.enqueue / enqueue',
      'session: container.wake [isStoppedPhase] / requestWake',
      'session: session.close / markClosed',
      'container.starting: container.stop / requestStop, noteReason',
      'container.starting: container.wake [notClosed] / cancelStopRequest',
      'container.stopping: onError(stopContainer) / reportStopFailed',
      'mailbox.idle: after(passivateMs) [containerStopped] / requestPassivation',
    ]);
    expect(p.reentering).toEqual(['poller.polling: after(pollMs) [containerLive]', 'mailbox.idle: session.quietCheck']);
  });

  it('labels delays, invoke outcomes and guards', () => {
    const p = parseMermaid(toMermaid(sessionMachine));
    expect(hasEdge(p, 'session_container_idle', 'session_container_stopping', 'after(idleStopMs)')).toBe(true);
    expect(p.reentering).toContain('poller.polling: after(pollMs) [containerLive]');
    expect(
      hasEdge(p, 'session_container_starting', 'session_container_stopping', 'onDone(startContainer) [stopRequested]'),
    ).toBe(true);
    expect(hasEdge(p, 'session_container_starting', 'session_container_running', 'onDone(startContainer)')).toBe(true);
    expect(hasEdge(p, 'session_container_starting', 'session_container_stopped', 'onError(startContainer)')).toBe(true);
    expect(hasEdge(p, 'session_container_running', 'session_container_idle', 'container.observed [observedIdle]')).toBe(
      true,
    );
    expect(hasEdge(p, 'session_mailbox_committing', 'session_mailbox_idle', 'mailbox.committed')).toBe(true);
    expect(hasEdge(p, 'session_mailbox_idle', 'session_mailbox_committing', 'mailbox.enqueue [carriesTurn]')).toBe(
      true,
    );
  });

  it('marks the initial state of each region', () => {
    const text = toMermaid(sessionMachine);
    for (const region of ['container', 'poller', 'mailbox']) {
      const node = sessionMachine.root.states[region] as AnyStateNode;
      const initial = node.initial.target[0] as AnyStateNode;
      expect(text).toContain(`[*] --> ${mermaidId(initial)}`);
    }
  });

  it.each(MACHINES)('is stable: the %s machine gives the same text twice', (_name, machine) => {
    expect(toMermaid(machine)).toBe(toMermaid(machine));
  });

  it('draws the registry machine: ready ⇄ resolving, requests accepted at the root', () => {
    const p = parseMermaid(toMermaid(registryMachine));
    expect(hasEdge(p, 'registry_ready', 'registry_resolving', 'always [hasQueued]')).toBe(true);
    expect(hasEdge(p, 'registry_resolving', 'registry_ready', 'onError(resolveSession)')).toBe(true);
    expect(p.internal).toEqual(['registry: registry.resolve / enqueue']);
  });

  it('handles any machine: sanitised unique ids, final and history states, numeric delays, guard combinators', () => {
    const text = toMermaid(oddMachine);
    const p = parseMermaid(text);
    const nodes = allStateNodes(oddMachine);
    // `split.left` and the sibling `split_left` sanitise to the same id: both still get one.
    expect(p.declared.size).toBe(nodes.length);
    expect(text).toContain('state "first step" as odd_machine_first_step');
    expect(text).toContain('state "H*" as odd_machine_split_right_hist');
    expect(p.separators.get('odd_machine_split')).toBe(1);
    expect(hasEdge(p, 'odd_machine_first_step', 'odd_machine_split', 'after(250ms) [and(a, b)]')).toBe(true);
    expect(hasEdge(p, 'odd_machine_first_step', 'odd_machine_split_left_2', 'go now [not(blocked)]')).toBe(true);
    expect(hasEdge(p, 'odd_machine_first_step', 'odd_machine_done', 'go later [inline]')).toBe(true);
    expect(hasEdge(p, 'odd_machine_split_right_r1', 'odd_machine_split_right_r2', 'onDone(inline)')).toBe(true);
    expect(hasEdge(p, 'odd_machine_split', 'odd_machine_done', 'onDone')).toBe(true);
    // A self-target without `reenter` is internal in XState v5 (the state is not exited).
    expect(p.internal).toEqual(['split.right.r1: onError(inline)']);
    expect(hasEdge(p, 'odd_machine_done', '[*]', '')).toBe(true);
  });
});
