import { parseArgs } from 'node:util';

/** Options of `bench/run.ts`. */
export interface BenchOptions {
  /** Smaller loads, data sets and fewer scenarios, for a check in a few minutes. */
  quick: boolean;
  /** Substrings of scenario names. A scenario runs when its name contains any of them, and all run when empty. */
  scenarios: string[];
  /** Messages per load run, overriding the default of the mode (20,000, or 2,000 with --quick). */
  messages: number | null;
  /** Runs per load scenario and path, of which the median is reported. */
  runs: number;
  /** Largest data set of the suppression and event store sections, overriding the mode's default. */
  maxEntries: number | null;
  /** Merge this run's sections into the previous bench/results/latest.json instead of replacing it. */
  merge: boolean;
  help: boolean;
}

/** Usage text of `bench/run.ts`. */
export const USAGE = `usage: node --import tsx bench/run.ts [options]

  --quick             smaller loads (2,000 messages), fewer scenarios, 100 k / 1 M store sizes
  --scenario NAME     run only scenarios whose name contains NAME (repeatable), e.g.
                      load, load/4k-s10-r1-reuse, latency, suppression, events, big-messages, profile, recording
  --messages N        messages per load run (default 20000, or 2000 with --quick)
  --runs N            runs per load scenario and path; the median is reported (default 3)
  --max-entries N     largest store size for the suppression and event sections (default 10000000,
                      or 1000000 with --quick); the smaller size is a tenth of it
  --merge             replace only the sections and load scenarios this run measured in the previous
                      bench/results/latest.json (to rerun one scenario of a full run), keep the rest
  --help              print this text
`;

/** Parses the command line of `bench/run.ts`, throwing an Error that names an invalid option. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      scenario: { type: 'string', multiple: true, default: [] },
      messages: { type: 'string' },
      runs: { type: 'string' },
      'max-entries': { type: 'string' },
      merge: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });

  return {
    quick: values.quick ?? false,
    scenarios: values.scenario ?? [],
    messages: values.messages === undefined ? null : positiveInteger('--messages', values.messages),
    runs: values.runs === undefined ? 3 : positiveInteger('--runs', values.runs),
    maxEntries: values['max-entries'] === undefined ? null : positiveInteger('--max-entries', values['max-entries']),
    merge: values.merge ?? false,
    help: values.help ?? false,
  };
}

/** Tells whether a scenario runs under the `--scenario` filters. */
export function scenarioSelected(name: string, filters: readonly string[]): boolean {
  return filters.length === 0 || filters.some((filter) => name.includes(filter));
}

function positiveInteger(option: string, text: string): number {
  const value = Number(text.replaceAll('_', ''));
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${option} is "${text}": expected a positive integer`);
  }
  return value;
}
