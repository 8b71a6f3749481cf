// Bundles the console into dist/ (committed, embedded by the Go package
// web): dist/app.js from src/main.ts, plus index.html and app.css copied
// as they are. The output is deterministic for a given esbuild version, so
// scripts/web.sh can fail when the committed bundle drifts from the source.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: [join(root, "src/main.ts")],
  outfile: join(dist, "app.js"),
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  legalComments: "none",
  logLevel: "warning",
});
copyFileSync(join(root, "src/index.html"), join(dist, "index.html"));
copyFileSync(join(root, "src/app.css"), join(dist, "app.css"));
// The Go package embeds dist/; a file in it keeps go:embed valid even
// before the first build and says where the bundle comes from.
writeFileSync(join(dist, "README.txt"), "Built by `npm run build` in web/ (scripts/web.sh checks it is current). Do not edit.\n");
