// Runs the TypeScript unit tests with node's built-in runner: esbuild
// compiles each src/**/*.test.ts (and what it imports) to one ES module in
// .testbuild/, then `node --test` runs them. No test framework to install.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const out = join(root, ".testbuild");
const tests = readdirSync(join(root, "src"), { recursive: true })
  .filter((f) => String(f).endsWith(".test.ts") && !String(f).startsWith("gen/"))
  .map((f) => join(root, "src", String(f)));
if (tests.length === 0) {
  console.error("no *.test.ts files under src/");
  process.exit(1);
}
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: tests,
  outdir: out,
  outbase: join(root, "src"),
  bundle: true,
  platform: "node",
  format: "esm",
  outExtension: { ".js": ".mjs" },
  packages: "external",
  logLevel: "warning",
});
const files = tests.map((t) => join(out, t.slice(join(root, "src").length + 1).replace(/\.ts$/, ".mjs")));
const r = spawnSync(process.execPath, ["--test", ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
