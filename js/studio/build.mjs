// Bundles src/index.js (dagre and the CSS included) into one ES module, the studio
// widget's front end: lgp_lab/widgets/static/studio.js, committed so that installing
// lgp-lab needs no node. tests/test_studio.py rebuilds it and checks it is current.
//
// Usage: node build.mjs [outfile]   (default: ../../lgp_lab/widgets/static/studio.js)
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = resolve(process.argv[2] || join(here, "..", "..", "lgp_lab", "widgets", "static", "studio.js"));
mkdirSync(dirname(outfile), { recursive: true });

await build({
  entryPoints: [join(here, "src", "index.js")],
  outfile,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  legalComments: "none",
  loader: { ".css": "text" },
  logLevel: "warning",
});
console.log(outfile);
