const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const { input, lines, entry, record } = require("./common.js");

const key = input("key");
if (process.env.STATE_HIT === "true") {
  console.log(`Cache hit occurred on the primary key ${key}, not saving cache.`);
} else {
  const workspace = process.env.GITHUB_WORKSPACE;
  // Like actions/cache: paths inside the workspace are kept relative to it (a runner's
  // workspace may move between jobs), others absolute.
  const paths = lines("path").filter((p) => fs.existsSync(path.resolve(workspace, p)))
    .map((p) => path.isAbsolute(p) && !path.relative(workspace, p).startsWith("..") ? path.relative(workspace, p) : p);
  if (paths.length) {
    execFileSync("tar", ["-cPf", entry(key), "-C", workspace, ...paths]);
    record({ op: "save", key, bytes: fs.statSync(entry(key)).size });
    console.log(`Cache saved with key: ${key}`);
  }
}
