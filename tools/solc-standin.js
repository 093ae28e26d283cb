#!/usr/bin/env node
// A stand-in for the native `solc` binary, driving the pinned npm `solc` (solcjs) package instead.
//
// py-solc-x (and through it Brownie and slither's Brownie mode) needs only two things from a solc binary:
// `--version` in solc's own format and `--standard-json` on stdin/stdout. Native binaries are downloaded at run
// time, which this project never does; this script answers both from node_modules/solc, offline.
// Other flags (e.g. `--allow-paths DIR`) are accepted and ignored: inputs arrive inline in the standard JSON.
'use strict';
const fs = require('fs');
const path = require('path');

// Follow symlinks (~/.solcx/solc-v<version> links here) to find the project's node_modules.
const projectRoot = path.resolve(path.dirname(fs.realpathSync(__filename)), '..');
const solc = require(path.join(projectRoot, 'node_modules', 'solc'));

const args = process.argv.slice(2);
if (args.includes('--version')) {
  process.stdout.write('solc, the solidity compiler commandline interface\nVersion: ' + solc.version() + '\n');
} else if (args.includes('--standard-json')) {
  const input = fs.readFileSync(0, 'utf8');
  const readFile = (p) => {
    try {
      return {contents: fs.readFileSync(path.resolve(projectRoot, p), 'utf8')};
    } catch (err) {
      return {error: 'File not found: ' + p};
    }
  };
  process.stdout.write(solc.compile(input, {import: readFile}));
} else {
  process.stderr.write('solc stand-in: only --version and --standard-json are supported\n');
  process.exit(2);
}
