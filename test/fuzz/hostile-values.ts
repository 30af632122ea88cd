/**
 * Hostile arguments for the API fuzz, named so a failing sequence prints readably: generators hold
 * tags, and `hostile(tag)` builds a fresh value at call time (Proxies and throwing getters cannot be
 * shared or printed). Paths that would escape the sandbox point at `canaryPath()`, which must never
 * come to exist.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A file outside the sandbox that traversal names aim at. */
export function canaryPath(): string {
  return join(tmpdir(), `sa-fuzz-canary-${process.pid}`);
}

const UP = '../'.repeat(14);

/** Strings that must never become a path segment (or that probe the object model). */
const STRINGS = {
  empty: () => '',
  dot: () => '.',
  dotdot: () => '..',
  traversal: () => '../x',
  canaryTraversal: () => `${UP}${canaryPath().slice(1)}`,
  slash: () => 'a/b',
  backslash: () => 'a\\b',
  absolute: () => canaryPath(),
  nul: () => 'a\0b',
  long: () => 'x'.repeat(2000),
  proto: () => '__proto__',
  constructorName: () => 'constructor',
  toStringName: () => 'toString',
  loneSurrogate: () => 'a\uD800b',
  newline: () => 'a\nb',
  space: () => ' ',
  encodedDots: () => '%2e%2e',
  sqlQuote: () => "x'); DROP TABLE sessions; --",
  sessionTraversal: () => 'sess-1/../sess-2',
} satisfies Record<string, () => string>;

/** Values of every other type, including ones whose mere reading runs code that throws. */
const OTHERS = {
  zero: () => 0,
  negative: () => -1,
  nan: () => Number.NaN,
  infinity: () => Number.POSITIVE_INFINITY,
  null: () => null,
  undefined: () => undefined,
  true: () => true,
  emptyObject: () => ({}),
  emptyArray: () => [],
  nullPrototype: () => Object.create(null) as object,
  fn: () => () => 'sess-1',
  symbol: () => Symbol('sess-1'),
  bigint: () => 1n,
  date: () => new Date(0),
  boxedString: () => new String('sess-1'),
  arrayOfString: () => ['sess-1'],
  throwingGetters: () => throwingGetters(),
  throwingProxy: () => throwingProxy(),
  revokedProxy: () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  },
  throwingCoercion: () => ({
    toString() {
      throw new Error('toString of the caller');
    },
    valueOf() {
      throw new Error('valueOf of the caller');
    },
    [Symbol.toPrimitive]() {
      throw new Error('toPrimitive of the caller');
    },
  }),
  throwingToJSON: () => ({
    toJSON() {
      throw new Error('toJSON of the caller');
    },
  }),
  deepNesting: () => {
    let v: unknown[] = [];
    for (let i = 0; i < 20_000; i++) v = [v];
    return v;
  },
  cyclic: () => {
    const o: Record<string, unknown> = { id: 'cyc' };
    o.self = o;
    return o;
  },
  hugeArray: () => new Array<string>(100_000).fill('x'),
} satisfies Record<string, () => unknown>;

export type HostileTag = keyof typeof STRINGS | keyof typeof OTHERS;
export const HOSTILE_TAGS = [...Object.keys(STRINGS), ...Object.keys(OTHERS)] as HostileTag[];
export const HOSTILE_STRING_TAGS = Object.keys(STRINGS) as HostileTag[];

export function hostile(tag: HostileTag): unknown {
  const make = (STRINGS as Record<string, () => unknown>)[tag] ?? (OTHERS as Record<string, () => unknown>)[tag];
  if (make === undefined) throw new Error(`no hostile value ${tag}`);
  return make();
}

/** Fields every argument object of the API has, each a getter that throws. */
const FIELDS = [
  'id',
  'name',
  'folder',
  'agentProvider',
  'channelType',
  'platformId',
  'isGroup',
  'agentGroupId',
  'messagingGroupId',
  'threadId',
  'mode',
  'kind',
  'timestamp',
  'content',
  'trigger',
  'processAfter',
  'status',
];

function throwingGetters(): object {
  const o = {};
  for (const f of FIELDS) {
    Object.defineProperty(o, f, {
      enumerable: true,
      get() {
        throw new Error(`getter ${f} of the caller`);
      },
    });
  }
  return o;
}

function throwingProxy(): object {
  const trap = (name: string) => () => {
    throw new Error(`Proxy trap ${name} of the caller`);
  };
  return new Proxy(
    {},
    {
      get: trap('get'),
      has: trap('has'),
      ownKeys: trap('ownKeys'),
      getOwnPropertyDescriptor: trap('getOwnPropertyDescriptor'),
      getPrototypeOf: trap('getPrototypeOf'),
      set: trap('set'),
      defineProperty: trap('defineProperty'),
      deleteProperty: trap('deleteProperty'),
      isExtensible: trap('isExtensible'),
      preventExtensions: trap('preventExtensions'),
      setPrototypeOf: trap('setPrototypeOf'),
    },
  );
}

/** `base` with `field` read through a getter that throws. */
export function withThrowingField<T extends object>(base: T, field: string): T {
  const o = { ...base };
  Object.defineProperty(o, field, {
    enumerable: true,
    get() {
      throw new Error(`getter ${field} of the caller`);
    },
  });
  return o;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const attach = (entries: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ text: 'with files', ...extra, attachments: entries });

/** Inbound message content: valid JSON and not, attachments well-formed and hostile. */
const CONTENTS = {
  plain: () => JSON.stringify({ text: 'hello' }),
  withFile: () => attach([{ name: 'ok.txt', mimeType: 'text/plain', data: b64('hello') }]),
  generatedName: () => attach([{ mimeType: 'image/png', data: b64('png bytes') }]),
  notJson: () => 'not json {',
  jsonNumber: () => '42',
  jsonNull: () => 'null',
  emptyString: () => '',
  attachmentsNotArray: () => JSON.stringify({ attachments: 'x' }),
  attachmentsJunk: () => JSON.stringify({ attachments: [null, 1, 'a', [], {}] }),
  traversalName: () => attach([{ name: '../../evil', data: b64('evil') }]),
  canaryName: () => attach([{ name: `${UP}${canaryPath().slice(1)}`, data: b64('evil') }]),
  absoluteName: () => attach([{ name: canaryPath(), data: b64('evil') }]),
  dotName: () =>
    attach([
      { name: '..', data: b64('evil') },
      { name: '.', data: b64('evil') },
    ]),
  nulName: () => attach([{ name: 'a\0b.txt', data: b64('evil') }]),
  longName: () => attach([{ name: `${'n'.repeat(2000)}.txt`, data: b64('x') }]),
  slashName: () =>
    attach([
      { name: 'a/b.txt', data: b64('x') },
      { name: 'a\\b.txt', data: b64('x') },
    ]),
  protoName: () =>
    attach([
      { name: '__proto__', data: b64('x') },
      { name: 'constructor', data: b64('x') },
    ]),
  nonStringName: () =>
    attach([
      { name: 42, data: b64('x') },
      { name: { a: 1 }, data: b64('x') },
    ]),
  invalidBase64: () => attach([{ name: 'bad.bin', data: '!!!not base64***' }]),
  nonStringData: () =>
    attach([
      { name: 'n.bin', data: 12345 },
      { name: 'o.bin', data: { a: 1 } },
    ]),
  hugeBase64: () => attach([{ name: 'huge.bin', data: 'A'.repeat(200_000) }]),
  overAttachmentLimit: () => attach([{ name: 'big.bin', data: Buffer.alloc(20 * 1024, 7).toString('base64') }]),
  manyAttachments: () => attach(Array.from({ length: 200 }, (_, i) => ({ name: `f${i}.txt`, data: b64(`${i}`) }))),
  sameNames: () => attach([1, 2, 3].map((i) => ({ name: 'same.txt', data: b64(`${i}`) }))),
  caseNames: () =>
    attach([
      { name: 'A.txt', data: b64('upper') },
      { name: 'a.txt', data: b64('lower') },
    ]),
  localPathInjection: () => attach([{ name: 'x.txt', localPath: `${UP}etc/passwd`, data: b64('x') }]),
  hostileMime: () =>
    attach([
      { mimeType: 'image/png/../../x', data: b64('x') },
      { type: '../photo', data: b64('y') },
    ]),
  protoPollution: () =>
    '{"__proto__":{"polluted":true},"attachments":[{"__proto__":{"polluted":true},"name":"p.txt","data":"aGk="}]}',
  deepJson: () => `{"attachments":[${'['.repeat(5000)}${']'.repeat(5000)}]}`,
  textAttachmentsWord: () => JSON.stringify({ text: 'the word "attachments" alone' }),
} satisfies Record<string, () => string>;

export type ContentTag = keyof typeof CONTENTS;
export const CONTENT_TAGS = Object.keys(CONTENTS) as ContentTag[];

export function content(tag: ContentTag): string {
  return CONTENTS[tag]();
}

/** Outbound (host-originated) content: files the delivery must not read from outside the outbox. */
const OUTBOUND_CONTENTS = {
  plain: () => JSON.stringify({ text: 'from the host' }),
  traversalFiles: () => JSON.stringify({ text: 'x', files: [`${UP}etc/passwd`, '..', 'a/b', canaryPath()] }),
  filesNotArray: () => JSON.stringify({ text: 'x', files: 'v2.db' }),
  filesJunk: () => JSON.stringify({ text: 'x', files: [null, 1, {}, '__proto__'] }),
  notJson: () => 'plain text, not JSON',
  protoPollution: () => '{"__proto__":{"polluted":true},"text":"x"}',
} satisfies Record<string, () => string>;

export type OutboundContentTag = keyof typeof OUTBOUND_CONTENTS;
export const OUTBOUND_CONTENT_TAGS = Object.keys(OUTBOUND_CONTENTS) as OutboundContentTag[];

export function outboundContent(tag: OutboundContentTag): string {
  return OUTBOUND_CONTENTS[tag]();
}
