// Shared by main.js (restore) and post.js (save): inputs, the store, and the paths.
const fs = require("fs");
const path = require("path");

function input(name) {
  return (process.env[`INPUT_${name.toUpperCase()}`] || "").trim();
}

function lines(name) {
  return input(name).split("\n").map((s) => s.trim()).filter(Boolean);
}

function store() {
  const dir = process.env.GLUE_CACHE_STORE;
  if (!dir) throw new Error("GLUE_CACHE_STORE is not set");
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function entry(key) {
  return path.join(store(), encodeURIComponent(key) + ".tar");
}

function record(event) {
  // One JSON line per restore/save, for the benchmark's byte counts.
  fs.appendFileSync(path.join(store(), "log.jsonl"), JSON.stringify(event) + "\n");
}

module.exports = { input, lines, store, entry, record };
