#!/usr/bin/env node
// Launches the bouncegate CLI: the compiled dist/cli/main.js after `npm run build`, else the
// TypeScript source through tsx, so a development checkout works without a build.
// NOTE: once dist/ exists it wins, so a stale build hides source changes until the next `npm run build`.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);

async function loadCli() {
  if (existsSync(built)) {
    return import(built.href);
  }
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('bouncegate: dist/cli/main.js not found and tsx is not installed; run "npm run build" first\n');
    process.exit(1);
  }
  register();
  return import(source.href);
}

const cli = await loadCli();
process.exitCode = await cli.main(process.argv.slice(2));
