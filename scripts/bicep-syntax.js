#!/usr/bin/env node
// Syntax-checks every .bicep file under a directory with the tree-sitter
// Bicep grammar (no Bicep compiler needed). Prints file:line:col for each
// ERROR or MISSING node and exits 1; exits 2 when no .bicep file is found or
// the arguments are wrong. Syntax only: types, names and API versions are not
// checked (run `az bicep build` for that where the Bicep CLI is available).
//
//   node scripts/bicep-syntax.js infra/bicep
'use strict';

const fs = require('fs');
const path = require('path');
const Parser = require('tree-sitter');
const Bicep = require('tree-sitter-bicep');

function bicepFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && !entry.name.startsWith('.')) out.push(...bicepFiles(p));
    } else if (entry.isFile() && entry.name.endsWith('.bicep')) {
      out.push(p);
    }
  }
  return out.sort();
}

// problems walks the tree and returns every ERROR or MISSING node.
function problems(node, acc = []) {
  if (node.type === 'ERROR' || node.isMissing) {
    acc.push(node);
    if (node.type === 'ERROR') return acc; // its children are part of the same error
  }
  if (!node.hasError && !node.isMissing) return acc; // clean subtree
  for (let i = 0; i < node.childCount; i++) problems(node.child(i), acc);
  return acc;
}

function main(argv) {
  if (argv.length !== 1) {
    console.error('usage: node scripts/bicep-syntax.js DIR');
    return 2;
  }
  const dir = argv[0];
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    console.error(`bicep-syntax: ${dir}: not a directory`);
    return 2;
  }
  const files = bicepFiles(dir);
  if (files.length === 0) {
    console.error(`bicep-syntax: no .bicep files under ${dir}`);
    return 2;
  }
  const parser = new Parser();
  parser.setLanguage(Bicep);
  let bad = 0;
  for (const f of files) {
    const src = fs.readFileSync(f, 'utf8');
    // The default buffer is too small for large files; give it room.
    const tree = parser.parse(src, null, { bufferSize: Math.max(64 * 1024, src.length * 2) });
    for (const n of problems(tree.rootNode)) {
      bad++;
      const { row, column } = n.startPosition;
      const what = n.isMissing ? `missing ${n.type}` : `syntax error near ${JSON.stringify(src.slice(n.startIndex, Math.min(n.endIndex, n.startIndex + 40)))}`;
      console.error(`${f}:${row + 1}:${column + 1}: ${what}`);
    }
  }
  if (bad > 0) {
    console.error(`bicep-syntax: ${bad} problem(s) in ${files.length} file(s)`);
    return 1;
  }
  console.log(`bicep-syntax: ${files.length} file(s) OK`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
