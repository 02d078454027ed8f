import type { DeliveryEvent } from '../../core/types.js';
import { EXIT_OK, UsageError } from './io.js';
import { callApi, printJson } from './output.js';
import { JSON_OPTION, stringOption, type CommandSpec } from './spec.js';
import { firstLine, formatTable, orDash } from './table.js';

const USAGE =
  'events [--recipient ADDRESS] [--domain DOMAIN] [--action ACTION] [--since TIME] [--until TIME] [--limit N] [--json]';

// A relative time such as "90m", "24h" or "7d", counted back from now.
const RELATIVE_TIME = /^(\d+)([smhd])$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** CLI option name to admin API query parameter. */
const QUERY_PARAMETERS: Record<string, string> = {
  recipient: 'recipient',
  domain: 'domain',
  action: 'action',
  since: 'since',
  until: 'until',
  limit: 'limit',
  before: 'before',
  'queue-id': 'queueId',
  mx: 'mx',
  code: 'code',
  'enhanced-code': 'enhancedCode',
  reason: 'reason',
  campaign: 'campaign',
  'remote-ip': 'remoteIp',
  source: 'source',
  stage: 'stage',
};

/** `bouncegate events`: delivery events from GET /api/events, newest first. */
export const eventsCommand: CommandSpec = {
  name: 'events',
  usage: USAGE,
  summary: 'list recorded delivery events (every 4xx/5xx reply), newest first',
  positionals: [],
  options: {
    recipient: { type: 'string', value: 'ADDRESS', help: 'only events for this recipient (case-insensitive)' },
    domain: { type: 'string', value: 'DOMAIN', help: 'only events for recipients at this domain' },
    action: { type: 'string', value: 'ACTION', help: 'delivered, deferred, bounced, expired or suppressed' },
    since: {
      type: 'string',
      value: 'TIME',
      help: 'events at or after TIME: ISO-8601 (2026-01-31T08:00:00Z), ms since the epoch, or a span back from now (90m, 24h, 7d)',
    },
    until: { type: 'string', value: 'TIME', help: 'events before TIME, in the same forms as --since' },
    limit: { type: 'string', value: 'N', help: 'at most N events, 1 to 1000 (default 100)' },
    before: { type: 'string', value: 'CURSOR', help: 'the next page: events older than the cursor printed below the table' },
    'queue-id': { type: 'string', value: 'ID', help: 'only events of this queued message' },
    mx: { type: 'string', value: 'HOST', help: 'only replies from this MX host' },
    code: { type: 'string', value: 'CODE', help: 'only replies with this basic code, e.g. 550' },
    'enhanced-code': { type: 'string', value: 'CODE', help: 'only replies with this enhanced status code, e.g. 5.1.1' },
    reason: { type: 'string', value: 'REASON', help: 'only events of this bounce class, e.g. userunknown' },
    campaign: { type: 'string', value: 'NAME', help: 'only events of this campaign' },
    'remote-ip': { type: 'string', value: 'IP', help: 'only replies from this remote MTA address' },
    source: { type: 'string', value: 'IP|USER', help: 'only mail submitted from this client IP or by this AUTH user' },
    stage: { type: 'string', value: 'STAGE', help: 'only events of this SMTP step, e.g. rcpt, or dsn for asynchronous bounces' },
    json: JSON_OPTION,
  },

  async run(context) {
    const query: Record<string, string | undefined> = {};
    for (const [option, parameter] of Object.entries(QUERY_PARAMETERS)) {
      query[parameter] = stringOption(context.options, option);
    }
    query.since = absoluteTime('since', query.since);
    query.until = absoluteTime('until', query.until);

    const page = await callApi(USAGE, () => context.client().listEvents(query));
    if (context.options.json === true) {
      printJson(context.io, page);
      return EXIT_OK;
    }

    if (page.events.length === 0) {
      context.io.stdout.write('no events match\n');
      return EXIT_OK;
    }
    context.io.stdout.write(formatTable(HEADERS, page.events.map(eventRow)));
    if (page.next !== null) {
      context.io.stdout.write(`more events: repeat with --before ${page.next}\n`);
    }
    return EXIT_OK;
  },
};

const HEADERS = ['TIME', 'ACTION', 'RECIPIENT', 'CODE', 'REASON', 'MX', 'QUEUE ID', 'REPLY'];

/** Column headers of an event table. */
export const EVENT_HEADERS = HEADERS;

/** Formats one event as a table row under EVENT_HEADERS. */
export function eventRow(event: DeliveryEvent): string[] {
  const code = [event.code ?? 'local', event.enhancedCode].filter((part) => part !== '').join(' ');
  return [
    event.time,
    event.action,
    event.recipient,
    code,
    orDash(event.reason),
    orDash(event.mx),
    event.queueId,
    firstLine(event.text),
  ];
}

/** Converts a relative time such as "24h" into ISO-8601; other values go to the API unchanged. */
export function absoluteTime(option: string, value: string | undefined, usage: string = USAGE): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  const match = RELATIVE_TIME.exec(value.trim());
  if (!match) {
    return value;
  }
  const span = Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0);
  const time = new Date(Date.now() - span);
  if (Number.isNaN(time.getTime())) {
    throw new UsageError(`--${option} ${value} reaches back beyond the range of dates`, usage);
  }
  return time.toISOString();
}
