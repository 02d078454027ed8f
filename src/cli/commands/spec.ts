import { parseArgs } from 'node:util';
import type { AdminClient } from '../admin-client.js';
import { UsageError, type CliIo, type GlobalOptions } from './io.js';

/** One option of a command, as node:util parseArgs takes it, with its help line. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Value placeholder shown in help, e.g. "ADDRESS"; booleans have none. */
  value?: string;
  help: string;
}

/** A command: how to call it, what it accepts, and what it does. */
export interface CommandSpec {
  /** The words that select the command, e.g. "suppress add". */
  name: string;
  /** One-line usage, without the leading "bouncegate". */
  usage: string;
  /** One-line description for the command list. */
  summary: string;
  options: Record<string, OptionSpec>;
  /** Names of the required positional arguments, in order. */
  positionals: string[];
  /** Options that must be given, with the message shown when one is missing or empty. */
  required?: Record<string, string>;
  run(context: CommandContext): Promise<number>;
}

/** What a command's run() receives. */
export interface CommandContext {
  io: CliIo;
  globals: GlobalOptions;
  /** Option values by option name; strings are as given, booleans true when present. */
  options: Record<string, string | boolean | undefined>;
  positionals: string[];
  /** Creates the admin API client; resolves the URL and token on first use. */
  client(): AdminClient;
}

/** Options every command accepts, before or after its name. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  config: { type: 'string', value: 'PATH', help: 'config file (default: $BOUNCEGATE_CONFIG, else config/bouncegate.yaml)' },
  'admin-url': {
    type: 'string',
    value: 'URL',
    help: 'admin API base URL (default: $BOUNCEGATE_ADMIN_URL, else admin.host and admin.port of the config)',
  },
  token: {
    type: 'string',
    value: 'TOKEN',
    help: 'admin API token (default: $BOUNCEGATE_ADMIN_TOKEN, else admin.token of the config, else <dataDir>/admin-token); other users can see it in the process list, so prefer the variable',
  },
};

/** The --json option shared by the commands that print data. */
export const JSON_OPTION: OptionSpec = { type: 'boolean', help: 'print the JSON the admin API returned instead of a table' };

/** The result of parsing a command's arguments. */
export interface ParsedCommandLine {
  help: boolean;
  globals: GlobalOptions;
  options: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses the arguments after a command's name against its options and the global ones.
 * Throws UsageError for an unknown option, a missing value, a missing required option or a wrong
 * number of positional arguments.
 */
export function parseCommandLine(spec: CommandSpec, args: string[]): ParsedCommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, option] of Object.entries({ ...GLOBAL_OPTIONS, ...spec.options })) {
    options[name] = { type: option.type };
  }

  let parsed: { values: Record<string, string | boolean | Array<string | boolean> | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(parseErrorMessage(error), spec.usage);
  }

  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    values[name] = Array.isArray(value) ? value[value.length - 1] : value;
  }
  if (values.help === true) {
    return { help: true, globals: {}, options: values, positionals: parsed.positionals };
  }

  checkPositionals(spec, parsed.positionals);
  for (const [name, message] of Object.entries(spec.required ?? {})) {
    const value = values[name];
    if (typeof value !== 'string' || value.trim() === '') {
      throw new UsageError(message, spec.usage);
    }
  }

  return { help: false, globals: globalsFrom(values), options: values, positionals: parsed.positionals };
}

/**
 * Parses global options that come before the command name. Returns them and the index of the
 * command name in `argv`, which is argv.length when there is none.
 */
export function parseLeadingGlobals(argv: string[], usage: string): { globals: GlobalOptions; help: boolean; index: number } {
  const values: Record<string, string | boolean | undefined> = {};
  let index = 0;

  while (index < argv.length) {
    const token = argv[index] ?? '';
    if (token === '--help' || token === '-h') {
      values.help = true;
      index += 1;
      continue;
    }
    if (!token.startsWith('-')) {
      break;
    }

    const [flag = '', inline] = splitInlineValue(token);
    const name = flag.replace(/^--/, '');
    if (!flag.startsWith('--') || !Object.hasOwn(GLOBAL_OPTIONS, name)) {
      throw new UsageError(`unknown option ${flag} before the command; command options go after the command name`, usage);
    }
    if (inline !== undefined) {
      values[name] = inline;
      index += 1;
      continue;
    }
    const value = argv[index + 1];
    if (value === undefined || value.startsWith('-')) {
      throw new UsageError(`option ${flag} needs a value`, usage);
    }
    values[name] = value;
    index += 2;
  }

  return { globals: globalsFrom(values), help: values.help === true, index };
}

/** Returns a string option, or undefined when it is absent or empty. */
export function stringOption(options: Record<string, string | boolean | undefined>, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function globalsFrom(values: Record<string, string | boolean | undefined>): GlobalOptions {
  const globals: GlobalOptions = {};
  const configPath = stringOption(values, 'config');
  const adminUrl = stringOption(values, 'admin-url');
  const token = stringOption(values, 'token');
  if (configPath !== undefined) globals.configPath = configPath;
  if (adminUrl !== undefined) globals.adminUrl = adminUrl;
  if (token !== undefined) globals.token = token;
  return globals;
}

function checkPositionals(spec: CommandSpec, positionals: string[]): void {
  const missing = spec.positionals[positionals.length];
  if (missing !== undefined) {
    throw new UsageError(`missing ${missing}`, spec.usage);
  }
  const extra = positionals[spec.positionals.length];
  if (extra !== undefined) {
    throw new UsageError(`unexpected argument "${extra}"`, spec.usage);
  }
}

function splitInlineValue(token: string): [string, string | undefined] {
  const equals = token.indexOf('=');
  return equals < 0 ? [token, undefined] : [token.slice(0, equals), token.slice(equals + 1)];
}

/** Rewrites the parseArgs messages, which mention its own API, into plain usage errors. */
function parseErrorMessage(error: unknown): string {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (message.includes('does not take an argument')) {
        return `option ${option ?? ''} takes no value`;
      }
      if (message.includes('ambiguous')) {
        return `option ${option ?? ''} needs a value; write ${option ?? '--option'}=VALUE for a value that starts with "-"`;
      }
      return `option ${option ?? ''} needs a value`;
    default:
      return message;
  }
}
