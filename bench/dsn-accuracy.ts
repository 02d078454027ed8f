/**
 * Measures bouncegate's DSN parser and Debian's Sisimai (libsisimai-perl) on the same corpus of real
 * bounces: accuracy per field (recipient, status, reason) against the corpus's expected results, and
 * messages parsed per second. Prints a markdown table and writes it to bench/results/dsn-accuracy.md.
 *
 * Run: node --import tsx bench/dsn-accuracy.ts [--rounds N]
 * Needs the corpus (BOUNCEGATE_CORPUS, by default shared/corpus beside the repository) and, for the
 * comparison, `perl -MSisimai` (apt-get install libsisimai-perl). Without Sisimai only bouncegate's
 * row is printed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClassifier, DEFAULT_RULES_PATH } from '../src/classify/classifier.js';
import { loadRuleFiles } from '../src/classify/rules.js';
import { splitMailbox } from '../src/dsn/mbox.js';
import { parseDsn } from '../src/dsn/parse.js';
import { median } from './lib/stats.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULT_PATH = join(REPO_ROOT, 'bench', 'results', 'dsn-accuracy.md');

// Timed passes over the whole corpus per parser; the median pass gives messages per second.
const DEFAULT_ROUNDS = 5;

// Runs Sisimai over every file given, `rounds` times, and prints one JSON line per file from the
// first round, then one line with the seconds of each round (measured inside Perl, so process start
// and module loading are not counted).
const SISIMAI_SCRIPT = String.raw`
use strict; use warnings;
use Sisimai; use JSON::PP; use Time::HiRes qw(time);
my $rounds = shift @ARGV;
my $json = JSON::PP->new->canonical->allow_nonref;
my @elapsed;
for my $round (1 .. $rounds) {
  my $started = time;
  for my $file (@ARGV) {
    my $records = Sisimai->make($file, 'delivered' => 1, 'vacation' => 1) || [];
    next if $round > 1;
    my @bounces = map { {
      'recipient' => $_->recipient->address,
      'status' => $_->deliverystatus,
      'reason' => $_->reason,
      'action' => $_->action,
    } } @$records;
    print $json->encode({ 'file' => $file, 'bounces' => \@bounces }), "\n";
  }
  push @elapsed, time - $started;
}
print $json->encode({ 'elapsed' => \@elapsed }), "\n";
`;

/** One expected record of expected.json (see the field documentation there). */
interface ExpectedBounce {
  recipient: string | null;
  status: string | null;
  status_pseudo: boolean;
  reason: string;
}

/** A record that one parser reported for one recipient. */
interface FoundBounce {
  recipient: string;
  status: string | null;
  reason: string;
  action: string | null;
}

/** Accuracy and speed of one parser over the corpus. */
interface Row {
  parser: string;
  recipient: [number, number];
  status: [number, number];
  reason: [number, number];
  nonBounceFailures: number;
  messagesPerSecond: number;
}

const { values } = parseArgs({ options: { rounds: { type: 'string' } } });
const rounds = Number(values.rounds ?? DEFAULT_ROUNDS);
if (!Number.isInteger(rounds) || rounds < 1) {
  throw new Error(`invalid --rounds "${values.rounds}": expected a positive integer`);
}

const corpus = process.env['BOUNCEGATE_CORPUS'] ?? join(REPO_ROOT, '..', 'shared', 'corpus');
const expectedPath = join(corpus, 'dsn', 'expected.json');
if (!existsSync(expectedPath)) {
  throw new Error(`corpus not found: ${expectedPath} is missing; set BOUNCEGATE_CORPUS to the corpus folder`);
}
const expected = JSON.parse(readFileSync(expectedPath, 'utf8')) as { source_commit?: string; files: Record<string, { bounces: ExpectedBounce[] }> };
const relativeFiles = Object.keys(expected.files);
const absoluteFiles = relativeFiles.map((file) => join(corpus, 'dsn', file));
const messageCount = absoluteFiles.reduce((count, file) => count + splitMailbox(readFileSync(file)).length, 0);

const rows: Row[] = [await measureBouncegate()];
const sisimai = measureSisimai();
if (sisimai) {
  rows.push(sisimai);
}

const table = renderTable(rows);
console.log(table);
mkdirSync(dirname(RESULT_PATH), { recursive: true });
writeFileSync(RESULT_PATH, `${table}\n`);
console.log(`written to ${RESULT_PATH}`);

async function measureBouncegate(): Promise<Row> {
  const classifier = createClassifier(loadRuleFiles([DEFAULT_RULES_PATH]));
  const raws = absoluteFiles.map((file) => splitMailbox(readFileSync(file)));
  const found = new Map<string, FoundBounce[]>();
  const elapsed: number[] = [];

  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    for (const [index, messages] of raws.entries()) {
      const bounces: FoundBounce[] = [];
      for (const message of messages) {
        const result = await parseDsn(message, classifier);
        bounces.push(...result.bounces);
      }
      if (round === 0) {
        found.set(relativeFiles[index] ?? '', bounces);
      }
    }
    elapsed.push((performance.now() - started) / 1000);
  }

  return score('bouncegate (this tree)', found, median(elapsed));
}

function measureSisimai(): Row | null {
  const probe = spawnSync('perl', ['-MSisimai', '-e', 'print $Sisimai::VERSION'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.error('Sisimai not found (perl -MSisimai failed); install libsisimai-perl for the comparison row');
    return null;
  }

  const output = execFileSync('perl', ['-e', SISIMAI_SCRIPT, String(rounds), ...absoluteFiles], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const found = new Map<string, FoundBounce[]>();
  let elapsed: number[] = [];
  for (const line of output.trim().split('\n')) {
    const record = JSON.parse(line) as { file?: string; bounces?: FoundBounce[]; elapsed?: number[] };
    if (record.elapsed) {
      elapsed = record.elapsed;
    } else if (record.file && record.bounces) {
      found.set(relativeFiles[absoluteFiles.indexOf(record.file)] ?? record.file, record.bounces);
    }
  }

  return score(`Sisimai ${probe.stdout.trim()} (Debian libsisimai-perl)`, found, median(elapsed));
}

/** Scores one parser's records against expected.json, matching records by recipient, else by position. */
function score(parser: string, found: ReadonlyMap<string, FoundBounce[]>, secondsPerPass: number): Row {
  const row: Row = { parser, recipient: [0, 0], status: [0, 0], reason: [0, 0], nonBounceFailures: 0, messagesPerSecond: messageCount / secondsPerPass };

  for (const [file, { bounces: wanted }] of Object.entries(expected.files)) {
    const got = found.get(file) ?? [];
    if (wanted.length === 0) {
      row.nonBounceFailures += got.some((bounce) => bounce.action === 'failed') ? 1 : 0;
      continue;
    }

    wanted.forEach((want, index) => {
      const match = (want.recipient === null ? undefined : got.find((bounce) => sameAddress(bounce.recipient, want.recipient!))) ?? got[index];
      if (want.recipient !== null) {
        row.recipient[1]++;
        row.recipient[0] += match !== undefined && sameAddress(match.recipient, want.recipient) ? 1 : 0;
      }
      row.status[1]++;
      row.status[0] += statusMatches(want, match?.status ?? null) ? 1 : 0;
      row.reason[1]++;
      row.reason[0] += match?.reason === want.reason ? 1 : 0;
    });
  }
  return row;
}

function statusMatches(want: ExpectedBounce, got: string | null): boolean {
  const status = got === '' ? null : got;
  return want.status_pseudo ? status?.[0] === want.status?.[0] : status === want.status;
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function renderTable(measured: readonly Row[]): string {
  const cpu = cpus();
  const perl = spawnSync('perl', ['-e', 'printf "%vd", $^V'], { encoding: 'utf8' }).stdout || 'not found';
  const percent = ([hits, total]: [number, number]) => `${hits}/${total} (${((hits / total) * 100).toFixed(1)}%)`;

  return [
    '# DSN parsing accuracy',
    '',
    `Corpus: ${relativeFiles.length} files (${messageCount} messages) from sisimai/set-of-emails` +
      (expected.source_commit ? ` at ${expected.source_commit.slice(0, 12)}` : '') +
      ', scored against its expected.json. Status compares only the class digit where the expected code is a Sisimai pseudo code.',
    `Machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Node.js ${process.version}, Perl ${perl}. Speed: median of ${rounds} passes, parse time only (no process start).`,
    '',
    '| parser | recipient | status | reason | non-bounces reported as failures | messages/s |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...measured.map(
      (row) =>
        `| ${row.parser} | ${percent(row.recipient)} | ${percent(row.status)} | ${percent(row.reason)} | ${row.nonBounceFailures} | ${Math.round(row.messagesPerSecond)} |`,
    ),
  ].join('\n');
}
