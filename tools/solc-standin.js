#!/usr/bin/env node
// A stand-in for the native `solc` binary, driving the pinned npm `solc` (solcjs) package instead.
//
// py-solc-x (and through it Brownie and slither's Brownie mode) needs only two things from a solc binary:
// `--version` in solc's own format and `--standard-json` on stdin/stdout. Native binaries are downloaded at run
// time, which this project never does; this script answers both from node_modules/solc, offline.
// Other flags (e.g. `--allow-paths DIR`) are accepted and ignored: inputs arrive inline in the standard JSON.
//
// solcjs is slow (the contracts take ~30 s with via-IR) and `make test` compiles the same input several times
// (the suite's Brownie project, Brownie's tests, slither), so outputs are kept in build/solc-cache, keyed by the
// compiler version and the standard-JSON input with its keys sorted. An entry also lists every file the compiler
// read through the import callback with its hash, and is used only while those files are unchanged. solc is
// deterministic, so a hit is the output a fresh compile would give. CREDITSHARE_SOLC_CACHE=0 turns the cache off.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

// Follow symlinks (~/.solcx/solc-v<version> links here) to find the project's node_modules.
const projectRoot = path.resolve(path.dirname(fs.realpathSync(__filename)), '..');
const solc = require(path.join(projectRoot, 'node_modules', 'solc'));
const cacheDir = path.join(projectRoot, 'build', 'solc-cache');
const useCache = process.env.CREDITSHARE_SOLC_CACHE !== '0';

const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');
// Brownie lists the sources in a different order on each run: the key is the input with its keys sorted.
const canonical = (value) =>
  Array.isArray(value)
    ? value.map(canonical)
    : value !== null && typeof value === 'object'
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical(value[k])]))
      : value;

const readFile = (p) => {
  try {
    return {contents: fs.readFileSync(path.resolve(projectRoot, p), 'utf8')};
  } catch (err) {
    return {error: 'File not found: ' + p};
  }
};
const hashOf = (found) => (found.contents === undefined ? null : sha256(found.contents));

function cached(entryPath) {
  try {
    const entry = JSON.parse(fs.readFileSync(entryPath, 'utf8'));
    return entry.reads.every(([p, hash]) => hashOf(readFile(p)) === hash) ? entry.output : null;
  } catch (err) {
    return null; // no entry (or a torn one: it is simply compiled again)
  }
}

function store(entryPath, entry) {
  try {
    fs.mkdirSync(cacheDir, {recursive: true});
    const partial = `${entryPath}.${process.pid}.tmp`;
    fs.writeFileSync(partial, JSON.stringify(entry));
    fs.renameSync(partial, entryPath); // atomic: concurrent compiles of one input never see half an entry
  } catch (err) {
    // a read-only checkout compiles every time
  }
}

function compile(input) {
  const key = sha256(solc.version() + '\0' + JSON.stringify(canonical(JSON.parse(input))));
  const entryPath = path.join(cacheDir, key + '.json');
  const hit = useCache ? cached(entryPath) : null;
  if (hit !== null) {
    return hit;
  }
  const reads = [];
  const output = solc.compile(input, {
    import: (p) => {
      const found = readFile(p); // read once: what is hashed is what the compiler got
      reads.push([p, hashOf(found)]);
      return found;
    },
  });
  if (useCache) {
    store(entryPath, {reads, output});
  }
  return output;
}

const args = process.argv.slice(2);
if (args.includes('--version')) {
  process.stdout.write('solc, the solidity compiler commandline interface\nVersion: ' + solc.version() + '\n');
} else if (args.includes('--standard-json')) {
  process.stdout.write(compile(fs.readFileSync(0, 'utf8')));
} else {
  process.stderr.write('solc stand-in: only --version and --standard-json are supported\n');
  process.exit(2);
}
