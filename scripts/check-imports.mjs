// Fails when src/ has an import cycle, or when a module imports app.ts or the CLI, or when core/
// imports anything else from src/. Keeps the dependency direction of the layout enforceable in CI.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', 'src');
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts')) files.push(path);
  }
})(root);

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g;
const graph = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const targets = [];
  for (const match of text.matchAll(IMPORT)) {
    const target = resolve(dirname(file), match[1].replace(/\.js$/, '.ts'));
    targets.push(target);
  }
  graph.set(file, targets);
}

const problems = [];
const rel = (path) => relative(root, path);
for (const [file, targets] of graph) {
  for (const target of targets) {
    if (rel(file).startsWith('core/') && !rel(target).startsWith('core/')) {
      problems.push(`${rel(file)} imports ${rel(target)}: core/ may import only core/`);
    }
    if ((rel(target) === 'app.ts' || rel(target).startsWith('cli/')) && !rel(file).startsWith('cli/')) {
      problems.push(`${rel(file)} imports ${rel(target)}: nothing but the CLI may import app.ts or cli/`);
    }
  }
}

const state = new Map();
function visit(file, stack) {
  state.set(file, 'open');
  for (const target of graph.get(file) ?? []) {
    if (state.get(target) === 'open') {
      const cycle = stack.slice(stack.indexOf(target)).concat(target).map(rel);
      problems.push(`import cycle: ${cycle.join(' -> ')}`);
    } else if (!state.has(target) && graph.has(target)) {
      visit(target, stack.concat(target));
    }
  }
  state.set(file, 'done');
}
for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`import check: ${files.length} modules, no cycles`);
