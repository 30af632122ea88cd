/**
 * Finds the named types that appear in the public signatures of the package's entry points
 * but are not exported from any of them (a user could see such a type in an error message or a
 * hover, yet could not name it). Walks, with the TypeScript checker over the sources, every
 * export's type: properties and methods (not private or protected ones), call and construct
 * signatures, unions, intersections, type arguments and index signatures.
 *
 * A type counts as exported when its own symbol is exported or an exported type alias names it
 * (`export type MessageCounts = …`). The constructors of exported classes are not public API
 * (instances come from factories such as `createRuntime`), so their parameters are not walked;
 * neither are members tagged `@internal` (the build strips them from the declarations).
 */
import { dirname, relative } from 'node:path';
import ts from 'typescript';

export interface UnexportedType {
  /** The type's name and the file declaring it, relative to `root`. */
  name: string;
  file: string;
  /** How it was reached from an export, e.g. `Runtime.messageCounts → return`. */
  via: string;
}

export function findUnexportedPublicTypes(root: string, entries: readonly string[]): UnexportedType[] {
  const configPath = ts.findConfigFile(root, ts.sys.fileExists, 'tsconfig.json')!;
  const config = ts.parseJsonConfigFileContent(
    ts.readConfigFile(configPath, ts.sys.readFile).config,
    ts.sys,
    dirname(configPath),
  );
  const program = ts.createProgram(entries, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const isOurs = (file: string) => !file.includes('/node_modules/') && file.startsWith(root);

  const resolve = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exported = new Set<ts.Symbol>();
  const roots: { name: string; symbol: ts.Symbol }[] = [];
  for (const entry of entries) {
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
    for (const s of checker.getExportsOfModule(moduleSymbol)) {
      const target = resolve(s);
      exported.add(target);
      if (target.flags & ts.SymbolFlags.TypeAlias) {
        const aliased = checker.getDeclaredTypeOfSymbol(target);
        const named =
          aliased.aliasSymbol === target ? aliased.getSymbol() : (aliased.aliasSymbol ?? aliased.getSymbol());
        if (named !== undefined) exported.add(named);
      }
      roots.push({ name: s.name, symbol: target });
    }
  }

  const found = new Map<string, UnexportedType>();
  const seen = new Set<ts.Type>();
  const named = ts.SymbolFlags.Interface | ts.SymbolFlags.Class | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Enum;

  const note = (symbol: ts.Symbol | undefined, via: string) => {
    if (symbol === undefined || (symbol.flags & named) === 0) return;
    const decl = symbol.declarations?.[0];
    if (decl === undefined || !isOurs(decl.getSourceFile().fileName) || exported.has(symbol)) return;
    const file = relative(root, decl.getSourceFile().fileName);
    const key = `${symbol.name}@${file}`;
    if (!found.has(key)) found.set(key, { name: symbol.name, file, via });
  };

  const visitSignature = (sig: ts.Signature, via: string) => {
    for (const p of sig.getParameters()) visit(checker.getTypeOfSymbol(p), `${via}(${p.name})`);
    visit(sig.getReturnType(), `${via} → return`);
  };

  const visit = (type: ts.Type, via: string): void => {
    if (seen.has(type)) return;
    seen.add(type);
    note(type.aliasSymbol, via);
    note(type.getSymbol(), via);
    for (const arg of type.aliasTypeArguments ?? []) visit(arg, `${via}<>`);
    if (type.isUnionOrIntersection()) for (const t of type.types) visit(t, via);
    if (type.flags & ts.TypeFlags.Object) {
      const object = type as ts.ObjectType;
      if (object.objectFlags & ts.ObjectFlags.Reference)
        for (const arg of checker.getTypeArguments(object as ts.TypeReference)) visit(arg, `${via}<>`);
      const declared = type.getSymbol()?.declarations?.[0];
      // Types of other packages (xstate, Node) are theirs to name; only their arguments are ours.
      if (declared !== undefined && !isOurs(declared.getSourceFile().fileName)) return;
      for (const prop of type.getProperties()) {
        const decl = prop.valueDeclaration ?? prop.declarations?.[0];
        if (decl !== undefined) {
          const modifiers = ts.getCombinedModifierFlags(decl as ts.Declaration);
          if (modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
          if (prop.name.startsWith('#') || prop.name.startsWith('__')) continue;
          if (ts.getJSDocTags(decl).some((tag) => tag.tagName.text === 'internal')) continue;
        }
        visit(checker.getTypeOfSymbol(prop), `${via}.${prop.name}`);
      }
      for (const sig of type.getCallSignatures()) visitSignature(sig, via);
      for (const info of checker.getIndexInfosOfType(type)) visit(info.type, `${via}[]`);
    }
  };

  for (const { name, symbol } of roots) {
    if (symbol.flags & (ts.SymbolFlags.Value | ts.SymbolFlags.Class)) visit(checker.getTypeOfSymbol(symbol), name);
    if (symbol.flags & named) visit(checker.getDeclaredTypeOfSymbol(symbol), name);
  }
  return [...found.values()];
}
