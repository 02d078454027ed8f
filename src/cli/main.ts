import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/load.js';
import { BouncegateError } from '../core/errors.js';
import { AdminClient, resolveAdminTarget } from './admin-client.js';
import { eventsCommand } from './commands/events.js';
import { CommandError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, processIo, UsageError, type CliIo, type GlobalOptions } from './commands/io.js';
import { escalateCommand, historyCommand, segmentsCommand, triageCommand } from './commands/insights.js';
import {
  queueDeleteCommand,
  queueHoldCommand,
  queueListCommand,
  queueReleaseCommand,
  queueRetryCommand,
  queueSummaryCommand,
} from './commands/queue.js';
import { GLOBAL_OPTIONS, parseCommandLine, parseLeadingGlobals, type CommandSpec } from './commands/spec.js';
import { alertsCommand, ingestCommand, replayCommand, rulesReloadCommand } from './commands/bounces.js';
import { startCommand } from './commands/start.js';
import { suppressCommands } from './commands/suppress.js';
import { tailCommand } from './commands/tail.js';
import { webhooksAddCommand, webhooksListCommand, webhooksRemoveCommand } from './commands/webhooks.js';

const MAIN_USAGE = '[--config PATH] [--admin-url URL] [--token TOKEN] COMMAND [options]';

/** A command implemented in its own module, loaded only when called, that parses its own arguments. */
interface ExternalCommand {
  module: string;
  exportName: string;
  usage: string;
  summary: string;
}

const EXTERNAL_COMMANDS = new Map<string, ExternalCommand>(
  Object.entries({
    classify: {
    module: './classify.js',
    exportName: 'runClassify',
      usage: 'classify [options]',
      summary: 'classify an SMTP reply against the bounce rules (see "bouncegate classify --help")',
    },
    'parse-dsn': {
      module: './parse-dsn.js',
      exportName: 'runParseDsn',
      usage: 'parse-dsn [options]',
      summary: 'parse a delivery status notification (see "bouncegate parse-dsn --help")',
    },
  }),
);

/** Commands that take a subcommand as their next word; `default` runs when none is given. */
const GROUPS = new Map<string, { subcommands: CommandSpec[]; default?: CommandSpec }>([
  ['rules', { subcommands: [rulesReloadCommand] }],
  ['suppress', { subcommands: suppressCommands }],
  [
    'queue',
    {
      subcommands: [queueSummaryCommand, queueRetryCommand, queueHoldCommand, queueReleaseCommand, queueDeleteCommand],
      default: queueListCommand,
    },
  ],
  ['webhooks', { subcommands: [webhooksAddCommand, webhooksRemoveCommand], default: webhooksListCommand }],
]);

const SIMPLE_COMMANDS: CommandSpec[] = [
  startCommand,
  eventsCommand,
  historyCommand,
  segmentsCommand,
  triageCommand,
  escalateCommand,
  tailCommand,
  ingestCommand,
  replayCommand,
  alertsCommand,
];

/**
 * Runs the bouncegate CLI with the arguments after the program name and returns the exit code:
 * 0 on success, 1 when the command failed, 2 for a wrong command line.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  try {
    return await run(argv, io);
  } catch (error) {
    return report(io, error);
  }
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const leading = parseLeadingGlobals(argv, MAIN_USAGE);
  const name = argv[leading.index];
  const rest = argv.slice(leading.index + 1);

  if (name === undefined || name === 'help') {
    return showHelp(io, name === 'help' ? rest : []);
  }
  if (leading.help) {
    return showHelp(io, [name, ...rest]);
  }

  const external = EXTERNAL_COMMANDS.get(name);
  if (external) {
    if (Object.keys(leading.globals).length > 0) {
      throw new UsageError(`${name} reads its own options: put them after the command name`, external.usage);
    }
    return runExternal(name, external, rest, io);
  }

  if (GROUPS.has(name) && (rest[0] === '--help' || rest[0] === '-h')) {
    return showHelp(io, [name]);
  }

  const { spec, args } = selectCommand(name, rest);
  const parsed = parseCommandLine(spec, args);
  if (parsed.help) {
    io.stdout.write(commandHelp(spec));
    return EXIT_OK;
  }

  const globals: GlobalOptions = { ...leading.globals, ...parsed.globals };
  let client: AdminClient | null = null;
  return spec.run({
    io,
    globals,
    options: parsed.options,
    positionals: parsed.positionals,
    client: () => {
      client ??= new AdminClient(resolveAdminTarget(globals, io.env, loadConfig));
      return client;
    },
  });
}

/** Finds the command for the first word (and, for a group, the second) of the command line. */
function selectCommand(name: string, rest: string[]): { spec: CommandSpec; args: string[] } {
  const simple = SIMPLE_COMMANDS.find((spec) => spec.name === name);
  if (simple) {
    return { spec: simple, args: rest };
  }

  const group = GROUPS.get(name);
  if (!group) {
    throw new UsageError(`unknown command "${name}"; run "bouncegate help" for the list`, MAIN_USAGE);
  }
  const word = rest[0];
  const sub = group.subcommands.find((spec) => spec.name === `${name} ${word}`);
  if (sub) {
    return { spec: sub, args: rest.slice(1) };
  }
  if (group.default && (word === undefined || word.startsWith('-') || word === 'list')) {
    return { spec: group.default, args: word === 'list' ? rest.slice(1) : rest };
  }

  const choices = group.subcommands.map((spec) => spec.name.split(' ')[1]).join(', ');
  const usage = group.subcommands.map((spec) => spec.usage).join('\n       bouncegate ');
  if (word === undefined || word.startsWith('-')) {
    throw new UsageError(`${name} needs a subcommand: ${choices}`, usage);
  }
  throw new UsageError(`unknown subcommand "${name} ${word}"; expected one of ${choices}`, usage);
}

/** Loads and runs a command that lives in its own module, passing it the arguments unparsed. */
async function runExternal(
  name: string,
  command: ExternalCommand,
  args: string[],
  io: CliIo,
): Promise<number> {
  const specifier = command.module;
  let loaded: Record<string, unknown>;
  try {
    // A variable specifier keeps the type checker from requiring the module at build time.
    loaded = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    if (isMissingModule(error, specifier)) {
      throw new CommandError(`the ${name} command is not available in this build: module ${specifier} is missing`);
    }
    throw error;
  }

  const runCommand = loaded[command.exportName];
  if (typeof runCommand !== 'function') {
    throw new CommandError(`the ${name} command is not available in this build: ${specifier} has no ${command.exportName}()`);
  }
  // These commands read stdin when given no argument; CliIo carries only the output streams.
  const code: unknown = await runCommand(args, { stdin: process.stdin, ...io });
  return typeof code === 'number' ? code : EXIT_FAILURE;
}

function isMissingModule(error: unknown, specifier: string): boolean {
  if (!(error instanceof Error)) {
    return false;
  }
  const code = (error as NodeJS.ErrnoException).code;
  const missing = code === 'ERR_MODULE_NOT_FOUND' || /Cannot find module|Failed to load url/i.test(error.message);
  // Only the module itself counts: a missing dependency inside it is a real fault.
  const base = specifier.replace(/^\.\//, '').replace(/\.js$/, '');
  return missing && error.message.includes(base);
}

/** Prints the command list, or the help of one command. */
function showHelp(io: CliIo, words: string[]): number {
  const [first, second] = words;
  if (first === undefined || first.startsWith('-')) {
    io.stdout.write(mainHelp());
    return EXIT_OK;
  }

  const external = EXTERNAL_COMMANDS.get(first);
  if (external) {
    io.stdout.write(`usage: bouncegate ${external.usage}\n\n${external.summary}\n`);
    return EXIT_OK;
  }

  const named = allCommands();
  const sub = named.find((spec) => spec.name === `${first} ${second}`);
  if (sub) {
    io.stdout.write(commandHelp(sub));
    return EXIT_OK;
  }
  const members = named.filter((spec) => spec.name === first || spec.name.startsWith(`${first} `));
  if (members.length > 0) {
    io.stdout.write(members.map(commandHelp).join('\n'));
    return EXIT_OK;
  }
  throw new UsageError(`unknown command "${first}"; run "bouncegate help" for the list`, MAIN_USAGE);
}

function allCommands(): CommandSpec[] {
  return [...SIMPLE_COMMANDS, ...[...GROUPS.values()].flatMap((group) => [...(group.default ? [group.default] : []), ...group.subcommands])];
}

function mainHelp(): string {
  const entries: Array<[string, string]> = [
    ...allCommands().map((spec): [string, string] => [spec.usage, spec.summary]),
    ...[...EXTERNAL_COMMANDS.values()].map((command): [string, string] => [command.usage, command.summary]),
    ['help [COMMAND]', 'show the options of a command'],
  ];
  const lines = [
    `usage: bouncegate ${MAIN_USAGE}`,
    '',
    'Commands:',
    ...entries.map(([usage, summary]) => `  ${usage}\n      ${summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Commands other than start and help talk to the admin API of the running relay.',
  ];
  return `${lines.join('\n')}\n`;
}

function commandHelp(spec: CommandSpec): string {
  const lines = [`usage: bouncegate ${spec.usage}`, '', spec.summary];
  if (Object.keys(spec.options).length > 0) {
    lines.push('', 'Options:', ...optionLines(spec.options));
  }
  lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
  return `${lines.join('\n')}\n`;
}

function optionLines(options: CommandSpec['options']): string[] {
  return Object.entries(options).map(([name, option]) => {
    const flag = option.value ? `--${name} ${option.value}` : `--${name}`;
    return `  ${flag.padEnd(24)}${option.help}`;
  });
}

/** Prints an error as one line (plus the usage line for usage errors) and returns the exit code. */
function report(io: CliIo, error: unknown): number {
  if (error instanceof UsageError) {
    io.stderr.write(`bouncegate: ${error.message}\nusage: bouncegate ${error.usage}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof CommandError || error instanceof BouncegateError) {
    io.stderr.write(`bouncegate: ${error.message}\n`);
    return EXIT_FAILURE;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.stderr.write(`bouncegate: unexpected error: ${message}\n`);
  return EXIT_FAILURE;
}

/** Whether this module is the program's entry point (node dist/cli/main.js), not an import. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) {
    return false;
  }
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2));
}
