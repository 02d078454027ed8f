// Prints where a Node.js CPU profile spent its time: the top functions by self time and the self
// time per file. Usage: node --import tsx bench/cpuprofile-top.ts FILE.cpuprofile [TOP]
import { formatProfileSummary, summarizeProfile } from './lib/cpuprofile.js';

const [path, top] = process.argv.slice(2);
if (path === undefined) {
  process.stderr.write('usage: node --import tsx bench/cpuprofile-top.ts FILE.cpuprofile [TOP]\n');
  process.exit(2);
}
const count = top === undefined ? 20 : Number(top);
if (!Number.isInteger(count) || count < 1) {
  process.stderr.write(`TOP is "${top}": expected a positive integer\n`);
  process.exit(2);
}
process.stdout.write(`${formatProfileSummary(summarizeProfile(path, { top: count }))}\n`);
