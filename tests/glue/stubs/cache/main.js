const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const { input, lines, store, entry, record } = require("./common.js");

const key = input("key");
let found = fs.existsSync(entry(key)) ? key : null;
const exact = found !== null;
if (!found) {
  const names = fs.readdirSync(store()).filter((n) => n.endsWith(".tar")).map((n) => decodeURIComponent(n.slice(0, -4)));
  for (const prefix of lines("restore-keys")) {
    const matches = names.filter((n) => n.startsWith(prefix))
      .sort((a, b) => fs.statSync(entry(b)).mtimeMs - fs.statSync(entry(a)).mtimeMs);
    if (matches.length) { found = matches[0]; break; }
  }
}
if (found) {
  // Relative paths go back into this job's workspace, absolute ones where they were.
  execFileSync("tar", ["-xPf", entry(found), "-C", process.env.GITHUB_WORKSPACE]);
  record({ op: "restore", key: found, exact, bytes: fs.statSync(entry(found)).size });
  console.log(`Cache restored from key: ${found}`);
} else {
  console.log(`Cache not found for key: ${key}`);
}
fs.appendFileSync(process.env.GITHUB_OUTPUT, `cache-hit=${exact}\n`);
fs.appendFileSync(process.env.GITHUB_STATE, `HIT=${exact}\n`);
