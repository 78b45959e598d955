// Docs that cannot drift: the guide's and READMEs' TypeScript blocks compile against the
// built packages and mtty's sources, every repository path the docs name exists, every
// MDEVKIT_PLUGINS example names registered plugins, and nothing cites files that live
// outside this repository.
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { type CheckOutcome, CONFORMANCE_GROUPS, runConformanceGroup } from "@mdevkit/conformance";
import type { VendorDriver, VendorPlugin } from "@mdevkit/core";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { PLUGINS } from "../registry.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

/** Markdown whose ```ts blocks must compile. */
const SNIPPET_DOCS = ["docs/writing-a-plugin.md", "README.md", "packages/conformance/README.md"];

/** Markdown whose repository paths and examples must be real. */
const DOCS = [
  "README.md",
  "packages/conformance/README.md",
  ...readdirSync(join(REPO, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
  ...readdirSync(join(REPO, "plugins"))
    .map((p) => `plugins/${p}/README.md`)
    .filter((f) => existsSync(join(REPO, f))),
];

/** Where snippets are compiled, as if they were test files of the reference plugin. */
const SNIPPET_DIR = join(REPO, "plugins/mtty/test");

/** One ```ts block, with the hidden prelude and epilogue its HTML comments give. */
interface Snippet {
  /** `docs/x.md:LINE` of the block's first code line. */
  readonly where: string;
  /** 1-based line in the markdown of the block's first code line. */
  readonly line: number;
  readonly prelude: string;
  readonly code: string;
  readonly epilogue: string;
}

/** The text of an HTML comment `<!-- NAME ... -->` that starts at line `at`, if any. */
function commentAt(lines: readonly string[], at: number, name: string) {
  if (lines[at]?.trim() !== `<!-- ${name}`) return undefined;
  const end = lines.findIndex((l, i) => i > at && l.trim() === "-->");
  if (end < 0) return undefined;
  return { text: lines.slice(at + 1, end).join("\n"), start: at, end };
}

/**
 * The ```ts blocks of `markdown`. The wrapper convention (documented at the top of the
 * guide): a `<!-- snippet-prelude` comment ending right before the block is prepended,
 * a `<!-- snippet-epilogue` comment starting right after it is appended.
 */
export function extractSnippets(markdown: string, file: string): Snippet[] {
  const lines = markdown.split("\n");
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== "```ts") continue;
    const close = lines.findIndex((l, j) => j > i && l.trim() === "```");
    if (close < 0) throw new Error(`${file}:${i + 1}: unclosed \`\`\`ts block`);
    let prelude = "";
    let before = i - 1;
    while (before >= 0 && lines[before]?.trim() === "") before--;
    if (lines[before]?.trim() === "-->") {
      const start = lines.lastIndexOf("<!-- snippet-prelude", before);
      const c = start >= 0 ? commentAt(lines, start, "snippet-prelude") : undefined;
      if (c !== undefined && c.end === before) prelude = c.text;
    }
    let after = close + 1;
    while (after < lines.length && lines[after]?.trim() === "") after++;
    const epilogue = commentAt(lines, after, "snippet-epilogue")?.text ?? "";
    out.push({
      where: `${file}:${i + 2}`,
      line: i + 2,
      prelude,
      code: lines.slice(i + 1, close).join("\n"),
      epilogue,
    });
    i = close;
  }
  return out;
}

/** The repository's compiler options, for checking only. */
function compilerOptions(): ts.CompilerOptions {
  const path = join(REPO, "tsconfig.base.json");
  const { config, error } = ts.readConfigFile(path, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, REPO, undefined, path);
  return { ...parsed.options, noEmit: true, declaration: false, declarationMap: false };
}

/**
 * Typechecks `snippets` together, each as its own module in {@link SNIPPET_DIR}; returns
 * one line per error in a snippet, located in the markdown.
 */
function typecheck(snippets: readonly Snippet[]): string[] {
  const options = compilerOptions();
  const files = new Map<string, { snippet: Snippet; text: string; offset: number }>();
  snippets.forEach((snippet, n) => {
    const name = join(SNIPPET_DIR, `__doc_snippet_${n}.ts`);
    const head = snippet.prelude === "" ? "" : `${snippet.prelude}\n`;
    const text = `${head}${snippet.code}\n${snippet.epilogue}\nexport {};\n`;
    files.set(name, { snippet, text, offset: head === "" ? 0 : head.split("\n").length - 1 });
  });
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f)?.text ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, ...rest) => {
    const v = files.get(f);
    return v
      ? ts.createSourceFile(f, v.text, lang, true, ts.ScriptKind.TS)
      : getSourceFile.call(host, f, lang, ...rest);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const errors: string[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, " ");
    const v = d.file === undefined ? undefined : files.get(d.file.fileName);
    if (d.file === undefined) errors.push(`(global) TS${d.code}: ${message}`);
    else if (v !== undefined) {
      const line = d.file.getLineAndCharacterOfPosition(d.start ?? 0).line - v.offset;
      const where =
        line < 0 || line >= v.snippet.code.split("\n").length
          ? `${v.snippet.where} (in its prelude/epilogue)`
          : `${v.snippet.where.replace(/:\d+$/, "")}:${v.snippet.line + line}`;
      errors.push(`${where} TS${d.code}: ${message}`);
    }
  }
  return errors;
}

/** Every file under `dir` (repository-relative), without installed or built output. */
function sourceFiles(dir: string): string[] {
  const skip = new Set(["node_modules", "dist", ".turbo", "coverage", ".git"]);
  const out: string[] = [];
  for (const entry of readdirSync(join(REPO, dir), { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (entry.isFile() && !entry.name.startsWith(".vitest-report")) out.push(rel);
  }
  return out;
}

const read = (f: string) => readFileSync(join(REPO, f), "utf8");

describe("the guide's and README's TypeScript blocks", () => {
  const snippets = SNIPPET_DOCS.flatMap((f) => extractSnippets(read(f), f));

  it("are found, fragments with their wrappers", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(6);
    expect(snippets.some((s) => s.prelude !== "" && s.epilogue !== "")).toBe(true);
  });

  it("compile against the built packages and mtty's sources", () => {
    expect(typecheck(snippets)).toEqual([]);
  }, 120_000);

  it("a block naming something that does not exist fails, located in its markdown", () => {
    const md = [
      "# x",
      "<!-- snippet-prelude",
      'import { mttyPlugin } from "../src/index.js";',
      "-->",
      "```ts",
      'import { describeVendorDriverConformance } from "@mdevkit/conformance";',
      "describeVendorDriverConformance(mttyPlugin, mttyConformance);",
      "```",
    ].join("\n");
    const errors = typecheck(extractSnippets(md, "bad.md"));
    expect(errors).toEqual([
      expect.stringMatching(/^bad\.md:7 TS2304: Cannot find name 'mttyConformance'/),
    ]);
  }, 120_000);
});

describe("the guide's whole plugin (section 1)", () => {
  it("passes the conformance suite with each dirty-tracking method it offers", async () => {
    const snippet = extractSnippets(read("docs/writing-a-plugin.md"), "guide").find((s) =>
      s.code.includes("export const counterPlugin"),
    );
    expect(snippet, "the guide's counterPlugin block").toBeDefined();
    // Loaded from a scratch file, with core resolved to the very module this test uses.
    const core = JSON.stringify(import.meta.resolve("@mdevkit/core"));
    const dir = mkdtempSync(join(tmpdir(), "mdevkit-guide-"));
    try {
      const file = join(dir, "counter-plugin.ts");
      writeFileSync(file, snippet!.code.replaceAll('"@mdevkit/core"', core));
      const { counterPlugin } = (await import(file)) as { counterPlugin: VendorPlugin };
      type Counter = VendorDriver & { setTarget(iova: number): void };
      const outcomes: CheckOutcome[] = [];
      for (const dirtyTracking of counterPlugin.dirtyTracking) {
        for (const group of CONFORMANCE_GROUPS) {
          const run = await runConformanceGroup<Counter>(group.id, counterPlugin, {
            dirtyTracking,
            numRuns: 20,
            exercise: (driver, rng) => driver.setTarget(0x1000 + rng.int(64) * 4096),
          });
          outcomes.push(...run);
        }
      }
      expect(outcomes.filter((o) => o.status === "passed").length).toBeGreaterThan(40);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("docs describe only what exists", () => {
  it("every repository path they name exists", () => {
    const missing: string[] = [];
    const pathPattern =
      /\b((?:packages|plugins|test|docs|scripts)\/[A-Za-z0-9._/-]*[A-Za-z0-9_/])/g;
    for (const doc of DOCS) {
      read(doc)
        .split("\n")
        .forEach((line, i) => {
          for (const m of line.matchAll(pathPattern)) {
            const path = m[1] as string;
            // Globs and placeholders (plugins/*, plugins/NAME) name no single file.
            if (line[(m.index ?? 0) + path.length] === "*" || /[A-Z]{3,}/.test(path)) continue;
            // Relative paths resolve from the document's folder too; paths inside a
            // plugin (`test/conformance.test.ts`) are checked against the reference plugin.
            const bases = [".", "plugins/mtty", dirname(doc)];
            if (!bases.some((b) => existsSync(join(REPO, b, path)))) {
              missing.push(`${doc}:${i + 1} ${path}`);
            }
          }
        });
    }
    expect(missing).toEqual([]);
  });

  it("MDEVKIT_PLUGINS examples name registered plugins only", () => {
    const wrong: string[] = [];
    const files = [...DOCS, "test/conformance/package.json", "package.json"];
    for (const f of files) {
      for (const m of read(f).matchAll(/MDEVKIT_PLUGINS=([a-z0-9,-]+)/g)) {
        const names = (m[1] as string).split(",").filter((n) => n !== "");
        for (const n of names) if (!(n in PLUGINS)) wrong.push(`${f}: ${n}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("nothing cites files outside this repository", () => {
    // Built from parts so this file does not match itself.
    const outside = [["design", "md"].join("."), ["..", "shared"].join("/")];
    const hits: string[] = [];
    const files = [
      ...["packages", "plugins", "test", "docs"].flatMap(sourceFiles),
      "README.md",
    ].filter((f) => statSync(join(REPO, f)).size < 2_000_000);
    for (const f of files) {
      const text = read(f);
      for (const needle of outside) if (text.includes(needle)) hits.push(`${f}: ${needle}`);
    }
    expect(hits).toEqual([]);
  });
});

describe("the wrapper convention", () => {
  it("is documented where the snippets are", () => {
    const guide = read("docs/writing-a-plugin.md");
    expect(guide).toContain(basename(fileURLToPath(import.meta.url)));
    expect(guide).toContain("snippet-prelude");
    expect(guide).toContain("snippet-epilogue");
    expect(relative(REPO, SNIPPET_DIR)).toBe("plugins/mtty/test");
    expect(guide).toContain("plugins/mtty/test/");
  });
});
