#!/usr/bin/env node
// Minimal `solc` executable over the pinned npm solcjs, for py-solc-x's compile_standard.
// The solcjs CLI prints a ">>> " banner before its JSON, rejects --allow-paths and truncates piped
// output at 64 KiB; this shim answers `--version` like native solc and writes the whole JSON with
// fs.writeSync. Imports resolve against the project root and node_modules (no remote fetch).
'use strict';
const fs = require('fs');
const path = require('path');

const projectRoot = path.resolve(__dirname, '..');
const solc = require(path.join(projectRoot, 'node_modules', 'solc'));

function writeAll(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

function findImports(importPath) {
  const candidates = [
    path.join(projectRoot, importPath),
    path.join(projectRoot, 'node_modules', importPath),
  ];
  for (const file of candidates) {
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, 'utf8') };
  }
  return { error: `File not found: ${importPath}` };
}

const args = process.argv.slice(2);
if (args.includes('--version')) {
  writeAll(1, `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (args.includes('--help')) {
  writeAll(1, 'tradenet solcjs shim: supports --version and --standard-json (stdin)\n');
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  writeAll(2, 'tradenet solc shim: only --standard-json (input on stdin) and --version are supported\n');
  process.exit(2);
}
const input = fs.readFileSync(0, 'utf8');
const output = solc.compile(input, { import: findImports });
writeAll(1, output);
