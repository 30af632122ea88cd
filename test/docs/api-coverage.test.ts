/**
 * docs/api.md covers the whole public surface, and its links lead somewhere. Read from the code,
 * not from a list kept here, so an export, method, option, event, error code or CLI option added
 * later without its entry fails:
 * 1. every value exported by the three entry points is named in the page ("names every export");
 * 2. every public member of `Runtime` has an `rt.<name>` entry ("has an entry for every Runtime
 *    method");
 * 3. every `createRuntime` option has an `options.<name>` entry and a row in the options table,
 *    every limit is named ("documents every option");
 * 4. every event of `RuntimeEvents` has its entry and table row ("documents every event");
 * 5. every error code has its entry and table row ("documents every error code");
 * 6. every CLI command has its section naming each of its options and arguments ("documents
 *    every command line option");
 * 7. every option and member of the test kit's `createTestRuntime` is named ("documents the test
 *    kit");
 * 8. every link to an anchor of this page, agent.md or event-log.md resolves ("every link …").
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { ERROR_CODES } from '../../src/errors.js';
import { links, outline, sectionOf, type Heading, type Outline } from './markdown-outline.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const page = outline(read('docs/api.md'));
const prose = page.prose.map((p) => p.text).join('\n');

/** Public members of Runtime that are not for users, and why. */
const NOT_FOR_USERS: Record<string, string> = {
  emit: "EventEmitter's; the runtime emits, users listen",
  recover: 'start-up of an owner, called by createRuntime',
};

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function heading(predicate: (h: Heading) => boolean): Heading | undefined {
  return page.headings.find(predicate);
}

function section(title: string): string {
  const h = heading((x) => x.text === title);
  if (h === undefined) throw new Error(`docs/api.md has no heading "${title}"`);
  return sectionOf(page, h);
}

/** Whether `name` is written as code (`` `name`` …) in `text`. */
function namedAsCode(text: string, name: string): boolean {
  return new RegExp(`\`${escape(name)}(?![\\w$])`).test(text);
}

function sourceFile(path: string): ts.SourceFile {
  return ts.createSourceFile(path, read(path), ts.ScriptTarget.Latest, true);
}

function memberName(member: ts.ClassElement | ts.TypeElement): string | undefined {
  const n = member.name;
  if (n === undefined) return undefined;
  if (ts.isIdentifier(n) || ts.isStringLiteral(n)) return n.text;
  return undefined;
}

/** The members of interface `name` in `path`, in declaration order (own members only). */
function interfaceMembers(path: string, name: string): string[] {
  const file = sourceFile(path);
  const found = file.statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name,
  );
  if (found === undefined) throw new Error(`${path} declares no interface ${name}`);
  return found.members.map(memberName).filter((m): m is string => m !== undefined);
}

/** Public, non-internal members of class `name` in `path`. */
function publicClassMembers(path: string, name: string): string[] {
  const file = sourceFile(path);
  const found = file.statements.find(
    (s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === name,
  );
  if (found === undefined) throw new Error(`${path} declares no class ${name}`);
  return found.members
    .filter((m) => !ts.isConstructorDeclaration(m))
    .filter((m) => {
      const modifiers = ts.canHaveModifiers(m) ? (ts.getModifiers(m) ?? []) : [];
      if (modifiers.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword))
        return false;
      return !ts.getJSDocTags(m).some((tag) => tag.tagName.text === 'internal');
    })
    .map(memberName)
    .filter((m): m is string => m !== undefined && !m.startsWith('#'));
}

function tableRow(text: string, name: string): boolean {
  return new RegExp(`^\\|\\s*\`${escape(name)}\``, 'm').test(text);
}

describe('docs/api.md', () => {
  it('names every export of session-actors, session-actors/testing and session-actors/machines', async () => {
    const entries = ['../../src/index.js', '../../src/testing/index.js', '../../machines/index.js'];
    const missing: string[] = [];
    for (const entry of entries) {
      const names = Object.keys((await import(entry)) as object);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names)
        if (!namedAsCode(prose, name) && !heading((h) => h.text.includes(name))) missing.push(name);
    }
    expect(missing).toEqual([]);
  });

  it('has an entry for every Runtime method and property', () => {
    const members = publicClassMembers('src/runtime/runtime.ts', 'Runtime').filter((m) => !(m in NOT_FOR_USERS));
    expect(members).toContain('writeMessage');
    const missing = members.filter((m) => !heading((h) => new RegExp(`\\brt\\.${escape(m)}\\b`).test(h.text)));
    expect(missing).toEqual([]);
  });

  it('documents every option of createRuntime, in the table and with an entry', () => {
    const options = interfaceMembers('src/runtime/settings.ts', 'RuntimeOptions');
    expect(options).toContain('dataDir');
    const table = section('Options');
    expect(options.filter((o) => !tableRow(table, o))).toEqual([]);
    expect(options.filter((o) => !heading((h) => new RegExp(`\\boptions\\.${escape(o)}\\b`).test(h.text)))).toEqual([]);
    const limits = interfaceMembers('src/runtime/settings.ts', 'RuntimeLimits');
    expect(limits.filter((l) => !namedAsCode(section('options.limits'), l))).toEqual([]);
  });

  it('documents every event, in the table and with an entry', () => {
    const events = interfaceMembers('src/runtime/types.ts', 'RuntimeEvents');
    expect(events).toContain('container.status');
    const all = section('Events');
    expect(events.filter((e) => !tableRow(all, e))).toEqual([]);
    expect(events.filter((e) => !heading((h) => h.level === 3 && h.text === e))).toEqual([]);
  });

  it('documents every error code, in the table and with an entry', () => {
    const codes = section('Codes');
    expect(ERROR_CODES.filter((c) => !tableRow(codes, c))).toEqual([]);
    expect(ERROR_CODES.filter((c) => !heading((h) => h.level === 4 && h.text === c))).toEqual([]);
  });

  it('documents every command line command, option and argument', () => {
    const missing: string[] = [];
    for (const command of COMMANDS) {
      const h = heading((x) => new RegExp(`^session-actors ${escape(command.name)}\\b`).test(x.text));
      if (h === undefined) {
        missing.push(command.name);
        continue;
      }
      const text = `${h.text}\n${sectionOf(page, h)}`;
      for (const [option, spec] of Object.entries(command.options)) {
        if (!text.includes(`--${option}`)) missing.push(`${command.name} --${option}`);
        if (spec.short !== undefined && !text.includes(`-${spec.short}, --${option}`))
          missing.push(`${command.name} -${spec.short}`);
      }
      for (const p of command.positionals ?? [])
        if (!h.text.includes(p.name)) missing.push(`${command.name} ${p.name}`);
    }
    expect(missing).toEqual([]);
  });

  it('documents the test kit: every option and member of createTestRuntime', () => {
    const kit = section('createTestRuntime(options?) → Promise<TestRuntime>');
    const names = [
      ...interfaceMembers('src/testing/create-test-runtime.ts', 'TestRuntimeOptions'),
      ...interfaceMembers('src/testing/create-test-runtime.ts', 'TestRuntime'),
    ];
    expect(names).toContain('agent');
    expect(names.filter((n) => !namedAsCode(kit, n))).toEqual([]);
  });

  it('every link to an anchor of this page, agent.md or event-log.md resolves', () => {
    const pages = new Map<string, Outline>([['', page]]);
    const broken: string[] = [];
    for (const { line, target } of links(page)) {
      if (/^[a-z]+:/.test(target)) continue; // another site
      const [file = '', anchor] = target.split('#');
      if (file !== '' && !existsSync(join(ROOT, 'docs', file))) {
        broken.push(`line ${line}: ${target} (no such file)`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!pages.has(file)) pages.set(file, outline(read(join('docs', file))));
      if (!pages.get(file)!.headings.some((h) => h.anchor === anchor)) broken.push(`line ${line}: ${target}`);
    }
    expect(links(page).length).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });
});
