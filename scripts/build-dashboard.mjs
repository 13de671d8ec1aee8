// Bundles the dashboard (dashboard/ → public/dashboard/): one script, one stylesheet (uPlot's CSS included) and the HTML shell.
// Files are replaced only when their content changed, and atomically, so a running `wrangler dev` never sees a half-built folder.
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";

const root = path.join(import.meta.dirname, "..");
const outdir = path.join(root, "public", "dashboard");

const result = await build({
  entryPoints: { app: path.join(root, "dashboard", "main.tsx") },
  outdir,
  bundle: true,
  minify: true,
  sourcemap: "linked",
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "hono/jsx/dom",
  legalComments: "linked",
  logLevel: "warning",
  write: false,
});
const outputs = new Map(result.outputFiles.map((file) => [file.path, file.contents]));
outputs.set(path.join(outdir, "index.html"), await readFile(path.join(root, "dashboard", "index.html")));

await mkdir(outdir, { recursive: true });
let changed = 0;
for (const [file, contents] of outputs) {
  const current = await readFile(file).catch(() => null);
  if (current && Buffer.compare(current, contents) === 0) continue;
  await writeFile(`${file}.tmp`, contents);
  await rename(`${file}.tmp`, file);
  changed += 1;
}
for (const name of await readdir(outdir)) {
  if (!outputs.has(path.join(outdir, name))) await rm(path.join(outdir, name), { force: true });
}
console.log(`dashboard built into ${path.relative(root, outdir)}/ (${changed} file(s) changed)`);
