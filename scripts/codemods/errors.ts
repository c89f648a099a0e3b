// Codemod: host errors from free strings to the catalogue (src/vm/errors.ts).
//
//   npx tsx scripts/codemods/errors.ts              rewrite the files in place
//   npx tsx scripts/codemods/errors.ts --check      exit 1 if anything would change
//   npx tsx scripts/codemods/errors.ts --inventory  list every error raised: key, file:line, message
//
// Re-runnable: it rewrites only what is still in the old form, so it can run
// again after other branches that still raise errors the old way are merged.
// What it does, found through the type checker (not by name):
//
// - `new RarError(phase, kind, message?, where?)` and the same `super(...)` in
//   a class extending RarError become `new RarError("phase.kind", message?, where?)`;
//   `new RarError(e.phase, e.kind, ...)` becomes `new RarError(e.key, ...)`;
//   a phase that is a parameter gives `${phase}.kind`, and the file's
//   parameters of type `Phase` with that name become `PhaseOf<kinds...>`.
// - A message that is a plain literal equal to the catalogue's text is dropped.
// - A local function whose whole body is `throw new RarError(...)` of its own
//   parameters (it only forwards) is removed, and each call becomes the
//   `throw new RarError(...)` it stood for. Helpers that compute something
//   (a location, a prefix) stay.
// - A parameter that carries the kind (`fail(kind: string, ...)`,
//   `TraceError(index, kind, ...)`) becomes `ErrorKey<"phase">`, and the
//   kind literals passed to it, wherever it is called, become "phase.kind";
//   this follows kinds passed on through further helpers.
// - Imports from src/vm/errors.js gain or lose ErrorKey, PhaseOf, Phase.
//
// Every key it writes must be in the catalogue; if one is not, it writes
// nothing and lists them (add them to ERRORS, then run again).

import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { ERRORS, errorText, isErrorKey, type ErrorKey } from "../../src/vm/errors.js";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "../..");
const DIRS = ["src", "lang", "gp", "bench", "scripts", "test"];
const ERRORS_FILE = join(ROOT, "src/vm/errors.ts");
const PHASES = new Set(Object.keys(ERRORS));

const mode = process.argv.includes("--check") ? "check" : process.argv.includes("--inventory") ? "inventory" : "write";

function tsFiles(dir: string, out: string[]): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (name === "node_modules" || name === "dist" || p === join(ROOT, "scripts/codemods")) continue;
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

const files = DIRS.flatMap((d) => tsFiles(join(ROOT, d), []));
const config = ts.parseJsonConfigFileContent(ts.readConfigFile(join(ROOT, "tsconfig.json"), ts.sys.readFile).config, ts.sys, ROOT);
const program = ts.createProgram(files, { ...config.options, noEmit: true });
const checker = program.getTypeChecker();
const sources = program.getSourceFiles().filter((sf) => files.includes(resolve(sf.fileName)));

// --- edits ------------------------------------------------------------------

interface Edit {
  start: number;
  end: number;
  text: string;
}
const edits = new Map<ts.SourceFile, Edit[]>();
function edit(sf: ts.SourceFile, start: number, end: number, text: string): void {
  const list = edits.get(sf) ?? [];
  if (!list.some((e) => e.start === start && e.end === end && e.text === text)) list.push({ start, end, text });
  edits.set(sf, list);
}
const problems: string[] = [];
const missing = new Map<string, string[]>();
const inventory: string[] = [];

function at(node: ts.Node): string {
  const sf = node.getSourceFile();
  return `${relative(ROOT, sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
}

function useKey(key: string, node: ts.Node, message?: ts.Expression): void {
  if (!isErrorKey(key)) missing.set(key, [...(missing.get(key) ?? []), at(node)]);
  const text = message ? message.getText().replace(/\s+/g, " ").slice(0, 100) : "(catalogue text)";
  inventory.push(`${key}\t${at(node)}\t${text}`);
}

// --- what is what ----------------------------------------------------------

function symbolOf(node: ts.Node): ts.Symbol | undefined {
  const s = checker.getSymbolAtLocation(node);
  return s && s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
}

const rarErrorDecl = (() => {
  const sf = program.getSourceFile(ERRORS_FILE);
  const found = sf?.statements.find((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === "RarError");
  if (!found) throw new Error("codemod: no class RarError in src/vm/errors.ts");
  return found;
})();

/** Whether the class an expression names is RarError itself. */
function isRarError(expr: ts.Expression): boolean {
  return symbolOf(expr)?.declarations?.includes(rarErrorDecl) ?? false;
}

function extendsRarError(cls: ts.ClassLikeDeclaration): boolean {
  const h = cls.heritageClauses?.find((c) => c.token === ts.SyntaxKind.ExtendsKeyword);
  return h !== undefined && isRarError(h.types[0].expression);
}

function stringLit(node: ts.Node): string | undefined {
  return ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) ? node.text : undefined;
}

/** The parameter an identifier names, if it names one. */
function paramOf(node: ts.Node): ts.ParameterDeclaration | undefined {
  if (!ts.isIdentifier(node)) return undefined;
  const d = symbolOf(node)?.valueDeclaration;
  return d && ts.isParameter(d) ? d : undefined;
}

/** Whether an expression is a phase: a phase literal, or of type Phase (a union of phase literals). */
function isPhase(node: ts.Expression): boolean {
  const lit = stringLit(node);
  if (lit !== undefined) return PHASES.has(lit);
  const t = checker.getTypeAtLocation(node);
  const parts = t.isUnion() ? t.types : [t];
  return parts.length > 0 && parts.every((p) => p.isStringLiteral() && PHASES.has(p.value));
}

/** Kind parameters: declaration (function, method, constructor, arrow) → parameter index → phase. */
const kindParams = new Map<ts.SignatureDeclaration, Map<number, string>>();
function addKindParam(fn: ts.SignatureDeclaration, index: number, phase: string): boolean {
  const m = kindParams.get(fn) ?? new Map<number, string>();
  if (m.get(index) === phase) return false;
  m.set(index, phase);
  kindParams.set(fn, m);
  return true;
}

/** Already-converted kind parameters: annotated ErrorKey<"phase">. */
function seedKindParams(sf: ts.SourceFile): void {
  const visit = (n: ts.Node): void => {
    if (ts.isParameter(n) && n.type) {
      const m = /^ErrorKey<"(\w+)">$/.exec(n.type.getText());
      if (m) addKindParam(n.parent as ts.SignatureDeclaration, n.parent.parameters.indexOf(n), m[1]);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}

/** The declaration a call or new expression calls. */
function calleeOf(call: ts.CallExpression | ts.NewExpression): ts.SignatureDeclaration | undefined {
  const sig = checker.getResolvedSignature(call);
  const d = sig?.getDeclaration();
  if (d && !ts.isJSDocSignature(d)) return d;
  return undefined;
}

// --- old-form raise sites ----------------------------------------------------

interface Raise {
  /** The `new RarError(...)` or `super(...)` call. */
  call: ts.NewExpression | ts.CallExpression;
  args: readonly ts.Expression[];
}

function oldForm(args: readonly ts.Expression[] | undefined): boolean {
  return args !== undefined && args.length >= 2 && isPhase(args[0]);
}

function raises(sf: ts.SourceFile): Raise[] {
  const out: Raise[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isNewExpression(n) && isRarError(n.expression) && oldForm(n.arguments)) out.push({ call: n, args: n.arguments! });
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.SuperKeyword && oldForm(n.arguments)) {
      const cls = n.parent && ts.findAncestor(n, ts.isClassLike);
      if (cls && extendsRarError(cls)) out.push({ call: n, args: n.arguments });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Phase-parameter identifiers used in `${phase}.kind` keys, by file, with their kinds. */
const phaseParams = new Map<ts.SourceFile, { names: Set<string>; kinds: Set<string> }>();

/**
 * The new-form arguments for old-form ones (as source texts): the key, then
 * the message and location as given. `text` gives an argument's text (a call
 * site's argument when a helper is inlined); undefined for an absent one.
 */
function convert(
  site: ts.Node,
  phase: ts.Expression,
  kind: ts.Expression,
  message: ts.Expression | undefined,
  where: ts.Expression | undefined,
  text: (e: ts.Expression | undefined) => string | undefined,
  enclosing: ts.SignatureDeclaration | undefined,
): { key: string; message: string | undefined; where: string | undefined; dropped: boolean } {
  const phaseLit = stringLit(phase);
  const kindLit = stringLit(kind);
  let key: string;
  if (
    ts.isPropertyAccessExpression(phase) &&
    phase.name.text === "phase" &&
    ts.isPropertyAccessExpression(kind) &&
    kind.name.text === "kind" &&
    phase.expression.getText() === kind.expression.getText()
  ) {
    key = `${text(phase.expression)}.key`;
  } else if (phaseLit !== undefined && kindLit !== undefined) {
    key = JSON.stringify(`${phaseLit}.${kindLit}`);
    useKey(`${phaseLit}.${kindLit}`, site, message);
  } else if (phaseLit === undefined && kindLit !== undefined) {
    const p = text(phase)!;
    key = `\`\${${p}}.${kindLit}\``;
    const sf = site.getSourceFile();
    const rec = phaseParams.get(sf) ?? { names: new Set<string>(), kinds: new Set<string>() };
    rec.names.add(p);
    rec.kinds.add(kindLit);
    phaseParams.set(sf, rec);
    inventory.push(`*.${kindLit}\t${at(site)}\t${message?.getText().replace(/\s+/g, " ").slice(0, 100) ?? ""}`);
  } else if (phaseLit !== undefined && paramOf(kind) && enclosing) {
    const p = paramOf(kind)!;
    addKindParam(p.parent as ts.SignatureDeclaration, (p.parent as ts.SignatureDeclaration).parameters.indexOf(p), phaseLit);
    key = text(kind)!;
  } else {
    problems.push(`${at(site)}: cannot convert the kind ${kind.getText()} of phase ${phase.getText()}`);
    key = `${text(phase)}, ${text(kind)}`;
  }
  const msgLit = message && stringLit(message);
  const full = `${phaseLit}.${kindLit}`;
  const dropped = msgLit !== undefined && isErrorKey(full) && msgLit === errorText(full);
  return { key, message: dropped ? undefined : text(message), where: text(where), dropped };
}

/** The new-form argument list. */
function argList(c: { key: string; message: string | undefined; where: string | undefined }): string {
  if (c.where !== undefined) return [c.key, c.message ?? "undefined", c.where].join(", ");
  return c.message !== undefined ? `${c.key}, ${c.message}` : c.key;
}

// --- removable helpers --------------------------------------------------------

interface Helper {
  decl: ts.FunctionDeclaration;
  raise: Raise;
}

/** A local function that only forwards its parameters to `throw new RarError(...)`, called only where a throw can stand. */
function removable(decl: ts.FunctionDeclaration, raise: Raise): boolean {
  if (decl.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) return false;
  const body = decl.body?.statements;
  if (!body || body.length !== 1 || !ts.isThrowStatement(body[0]) || body[0].expression !== raise.call) return false;
  const used = new Set<ts.ParameterDeclaration>();
  for (const a of raise.args) {
    if (stringLit(a) !== undefined) continue;
    const p = paramOf(a);
    if (!p || p.parent !== decl || used.has(p)) return false;
    used.add(p);
  }
  const sym = symbolOf(decl.name!);
  let ok = true;
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n) && n !== decl.name && symbolOf(n) === sym) {
      const call = n.parent;
      if (!ts.isCallExpression(call) || call.expression !== n) ok = false;
      else if (!ts.isExpressionStatement(call.parent) && !ts.isReturnStatement(call.parent)) ok = false;
    }
    ts.forEachChild(n, visit);
  };
  visit(decl.getSourceFile());
  return ok;
}

/** Removes a declaration with its doc comment, leaving one blank line between what stood around it. */
function removeDeclaration(sf: ts.SourceFile, decl: ts.Node): void {
  const full = sf.getFullText();
  let start = decl.getStart(sf, false);
  const comments = ts.getLeadingCommentRanges(full, decl.getFullStart()) ?? [];
  const last = comments[comments.length - 1];
  if (last && full.startsWith("/**", last.pos) && /^\s*$/.test(full.slice(last.end, start))) start = last.pos;
  while (start > 0 && /\s/.test(full[start - 1])) start--;
  let end = decl.getEnd();
  while (end < full.length && /\s/.test(full[end])) end++;
  edit(sf, start, end, start === 0 ? "" : end === full.length ? "\n" : "\n\n");
}

// --- the passes -----------------------------------------------------------------

for (const sf of sources) seedKindParams(sf);

const helpers: Helper[] = [];
const allRaises: Raise[] = [];
for (const sf of sources) {
  for (const r of raises(sf)) {
    const fn = ts.findAncestor(r.call, ts.isFunctionLike) as ts.SignatureDeclaration | undefined;
    if (fn && ts.isFunctionDeclaration(fn) && fn.name && removable(fn, r)) helpers.push({ decl: fn, raise: r });
    else allRaises.push(r);
  }
}

// Raise sites that stay (in place, or the bodies of helpers that compute something).
for (const r of allRaises) {
  const sf = r.call.getSourceFile();
  const enclosing = ts.findAncestor(r.call, ts.isFunctionLike) as ts.SignatureDeclaration | undefined;
  const [phase, kind, message, where] = r.args;
  const c = convert(r.call, phase, kind, message, where, (e) => e?.getText(), enclosing);
  // Only the phase and kind change (and a message the catalogue holds goes), so the layout stays.
  edit(sf, phase.getStart(), kind.getEnd(), c.key);
  if (c.dropped && message) {
    if (where) edit(sf, message.getStart(), message.getEnd(), "undefined");
    else edit(sf, kind.getEnd(), message.getEnd(), "");
  }
}

// Calls of removed helpers become the throw they stood for.
for (const h of helpers) {
  const sf = h.decl.getSourceFile();
  const sym = symbolOf(h.decl.name!);
  const params = h.decl.parameters;
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && symbolOf(n.expression) === sym) {
      const argFor = (e: ts.Expression | undefined): ts.Expression | undefined => {
        if (e === undefined) return undefined;
        const p = paramOf(e);
        if (!p || p.parent !== h.decl) return e;
        const i = params.indexOf(p);
        return n.arguments[i] ?? p.initializer;
      };
      const [phase, kind, message, where] = h.raise.args.map(argFor);
      const enclosing = ts.findAncestor(n.parent, ts.isFunctionLike) as ts.SignatureDeclaration | undefined;
      if (!phase || !kind) {
        problems.push(`${at(n)}: a call of ${h.decl.name!.text} lacks the phase or kind`);
        return;
      }
      const c = convert(n, phase, kind, message, where, (e) => e?.getText(), enclosing);
      const stmt = n.parent;
      edit(sf, stmt.getStart(), stmt.getEnd(), `throw new RarError(${argList(c)});`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  removeDeclaration(sf, h.decl);
}

// Kind parameters: follow kinds passed on through helpers, to a fixed point.
for (let changed = true; changed; ) {
  changed = false;
  for (const sf of sources) {
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) || ts.isNewExpression(n)) {
        const callee = calleeOf(n);
        const kp = callee && kindParams.get(callee);
        if (kp)
          for (const [i, phase] of kp) {
            const p = n.arguments && paramOf(n.arguments[i]);
            const fn = p?.parent as ts.SignatureDeclaration | undefined;
            if (p && fn && fn !== callee && addKindParam(fn, fn.parameters.indexOf(p), phase)) changed = true;
          }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
}

// Kind parameters are typed, and the literals passed to them become keys.
for (const [fn, m] of kindParams) {
  const sf = fn.getSourceFile();
  for (const [i, phase] of m) {
    const p = fn.parameters[i];
    if (p.type && p.type.getText() === "string") edit(sf, p.type.getStart(), p.type.getEnd(), `ErrorKey<"${phase}">`);
  }
}
for (const sf of sources) {
  const rewrite = (arg: ts.Expression, phase: string): void => {
    const lit = stringLit(arg);
    if (lit !== undefined) {
      if (lit.includes(".")) {
        if (!isErrorKey(lit) || !lit.startsWith(`${phase}.`)) problems.push(`${at(arg)}: '${lit}' is not a ${phase} error key`);
        else useKey(lit, arg);
        return;
      }
      useKey(`${phase}.${lit}`, arg);
      edit(sf, arg.getStart(), arg.getEnd(), JSON.stringify(`${phase}.${lit}`));
    } else if (ts.isConditionalExpression(arg)) {
      rewrite(arg.whenTrue, phase);
      rewrite(arg.whenFalse, phase);
    } else if (ts.isParenthesizedExpression(arg)) rewrite(arg.expression, phase);
  };
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) || ts.isNewExpression(n)) {
      const callee = calleeOf(n);
      const kp = callee && kindParams.get(callee);
      if (kp && n.arguments) for (const [i, phase] of kp) if (n.arguments[i]) rewrite(n.arguments[i], phase);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}

// Parameters that carry a phase into `${phase}.kind` keys are typed by the kinds they must have.
for (const [sf, { names, kinds }] of phaseParams) {
  const union = [...kinds].sort().map((k) => JSON.stringify(k)).join(" | ");
  const visit = (n: ts.Node): void => {
    if (helpers.some((h) => h.decl === n)) return;
    if (ts.isParameter(n) && ts.isIdentifier(n.name) && names.has(n.name.text) && n.type?.getText() === "Phase")
      edit(sf, n.type.getStart(), n.type.getEnd(), `PhaseOf<${union}>`);
    ts.forEachChild(n, visit);
  };
  visit(sf);
}

// --- apply ----------------------------------------------------------------------

function apply(text: string, list: Edit[]): string {
  const sorted = [...list].sort((a, b) => b.start - a.start || b.end - a.end);
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i].end > sorted[i - 1].start) throw new Error(`codemod: overlapping edits at ${sorted[i].start}..${sorted[i].end}`);
  for (const e of sorted) text = text.slice(0, e.start) + e.text + text.slice(e.end);
  return text;
}

/** The named imports from src/vm/errors.js a file needs after the rewrite. */
function fixImports(file: string, text: string): string {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const decl = sf.statements.find(
    (s): s is ts.ImportDeclaration =>
      ts.isImportDeclaration(s) &&
      ts.isStringLiteral(s.moduleSpecifier) &&
      resolve(dirname(file), s.moduleSpecifier.text.replace(/\.js$/, ".ts")) === ERRORS_FILE,
  );
  const body = text.slice(decl ? decl.getEnd() : 0);
  const uses = (name: string, typeOnly: boolean): boolean => new RegExp(`\\b${name}\\b${typeOnly ? "<" : ""}`).test(body);
  const present = new Map<string, boolean>();
  const named = decl?.importClause?.namedBindings;
  if (named && ts.isNamedImports(named))
    for (const el of named.elements) present.set(el.name.text, el.isTypeOnly || decl!.importClause!.isTypeOnly);
  // The file's own order is kept; what it now needs comes last.
  const wanted: { name: string; type: boolean }[] = [];
  for (const [name, isType] of present) if (name !== "Phase" || uses("Phase", false)) wanted.push({ name, type: isType });
  for (const name of ["ErrorKey", "PhaseOf"]) if (!present.has(name) && uses(name, true)) wanted.push({ name, type: true });
  if (!decl && wanted.length === 0) return text;
  const list = wanted.map((w) => (w.type ? `type ${w.name}` : w.name));
  if (decl) {
    const same = [...present.keys()].join() === wanted.map((w) => w.name).join();
    if (same) return text;
    return text.slice(0, decl.getStart()) + `import { ${list.join(", ")} } from "${(decl.moduleSpecifier as ts.StringLiteral).text}";` + text.slice(decl.getEnd());
  }
  let spec = relative(dirname(file), ERRORS_FILE).replace(/\.ts$/, ".js");
  if (!spec.startsWith(".")) spec = `./${spec}`;
  const last = [...sf.statements].reverse().find(ts.isImportDeclaration);
  const pos = last ? last.getEnd() : 0;
  return text.slice(0, pos) + `\nimport { ${list.join(", ")} } from "${spec}";` + text.slice(pos);
}

if (mode === "inventory") {
  for (const line of [...inventory].sort()) console.log(line);
  process.exit(0);
}
if (problems.length > 0 || missing.size > 0) {
  for (const p of problems) console.error(`codemod: ${p}`);
  for (const [key, where] of missing) console.error(`codemod: '${key}' is not in the catalogue (src/vm/errors.ts): ${where.join(", ")}`);
  console.error("codemod: nothing written");
  process.exit(1);
}
let changed = 0;
for (const [sf, list] of edits) {
  const file = resolve(sf.fileName);
  const before = readFileSync(file, "utf8");
  const after = fixImports(file, apply(before, list));
  if (after === before) continue;
  changed++;
  if (mode === "write") writeFileSync(file, after);
  console.log(`${mode === "write" ? "rewrote" : "would rewrite"} ${relative(ROOT, file)} (${list.length} edit(s))`);
}
console.log(`codemod: ${changed} file(s) ${mode === "write" ? "rewritten" : "to rewrite"}`);
if (mode === "check" && changed > 0) process.exit(1);
