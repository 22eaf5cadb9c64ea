// Bundles chat_app.jsx (React + the official useStream hook, from node_modules) into
// OUTDIR/chat.js and writes OUTDIR/index.html. No CDN: everything comes from npm.
//
// Usage: node build.mjs <outdir>
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const outdir = process.argv[2];
if (!outdir) {
  console.error("usage: node build.mjs <outdir>");
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
mkdirSync(outdir, { recursive: true });

await build({
  entryPoints: [join(here, "chat_app.jsx")],
  outfile: join(outdir, "chat.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome110"],
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"development"' },
  sourcemap: "inline",
  logLevel: "warning",
});

writeFileSync(
  join(outdir, "index.html"),
  `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>lgp_lab useStream chat</title></head>
  <body><div id="root"></div><script type="module" src="./chat.js"></script></body>
</html>
`,
);
console.log(join(outdir, "index.html"));
