import type { EscalationPacket } from '../../admin/escalation.js';
import type { RecipientState } from '../../admin/history-routes.js';
import type { Segment } from '../../admin/segment-routes.js';
import type { TriageResult } from '../../admin/triage.js';
import type { DeliveryEvent } from '../../core/types.js';
import type { MessageRecord } from '../../store/queue.js';
import type { AuditEntry, SuppressionEntry } from '../../store/suppressions.js';
import { AdminApiError } from '../admin-client.js';
import { absoluteTime, EVENT_HEADERS, eventRow } from './events.js';
import { CommandError, EXIT_OK, UsageError } from './io.js';
import { callApi, printJson } from './output.js';
import { JSON_OPTION, stringOption, type CommandSpec } from './spec.js';
import { firstLine, formatFields, formatTable, orDash, terminalSafe } from './table.js';

const TIME_HELP = 'ISO-8601, ms since the epoch, or a span back from now (90m, 24h, 7d)';

interface RecipientHistory {
  recipient: string;
  suppression: SuppressionEntry | null;
  audit: AuditEntry[];
  summary: { counts: Record<string, number>; first: string | null; last: string | null };
  events: DeliveryEvent[];
  next: string | null;
}

interface MessageHistory {
  queueId: string;
  message: MessageRecord | null;
  recipients: RecipientState[];
  events: DeliveryEvent[];
  truncated: boolean;
}

/** `bouncegate history`: everything recorded for a recipient (an address) or a message (a queue id). */
export const historyCommand: CommandSpec = {
  name: 'history',
  usage: 'history ADDRESS|QUEUE_ID [--limit N] [--before CURSOR] [--json]',
  summary: 'show every attempt, reply and decision for a recipient address or a queued message',
  positionals: ['ADDRESS|QUEUE_ID'],
  options: {
    limit: { type: 'string', value: 'N', help: 'for an address: at most N events, 1 to 1000 (default 200)' },
    before: { type: 'string', value: 'CURSOR', help: 'for an address: the next page, events older than the cursor' },
    json: JSON_OPTION,
  },

  async run(context) {
    const target = context.positionals[0] ?? '';
    const client = context.client();
    if (target.includes('@')) {
      const query = { limit: stringOption(context.options, 'limit'), before: stringOption(context.options, 'before') };
      const history = await callApi(this.usage, () => client.get<RecipientHistory>(`/api/history/recipient/${encodeURIComponent(target)}`, query));
      if (context.options.json === true) {
        printJson(context.io, history);
        return EXIT_OK;
      }
      const out = context.io.stdout;
      const counts = Object.entries(history.summary.counts).map(([action, count]) => `${action} ${count}`).join(', ');
      out.write(formatFields([
        ['recipient', history.recipient],
        ['events', counts],
        ['suppressed', history.suppression ? `${history.suppression.status}, reason ${history.suppression.reason} since ${history.suppression.createdAt}` : 'no'],
      ]));
      out.write('\n');
      out.write(history.events.length === 0 ? 'no events recorded\n' : formatTable(EVENT_HEADERS, history.events.map(eventRow)));
      if (history.next !== null) {
        out.write(`more events: repeat with --before ${history.next}\n`);
      }
      return EXIT_OK;
    }

    if (stringOption(context.options, 'limit') !== undefined || stringOption(context.options, 'before') !== undefined) {
      throw new UsageError('--limit and --before apply to an address, not to a queue id', this.usage);
    }
    let history: MessageHistory;
    try {
      history = await callApi(this.usage, () => client.get<MessageHistory>(`/api/history/message/${encodeURIComponent(target)}`));
    } catch (error) {
      if (error instanceof AdminApiError && error.status === 404) {
        throw new CommandError(`no message or event with queue id ${target}`);
      }
      throw error;
    }
    if (context.options.json === true) {
      printJson(context.io, history);
      return EXIT_OK;
    }
    const out = context.io.stdout;
    const message = history.message;
    out.write(formatFields([
      ['queue id', history.queueId],
      ['sender', message ? orDash(message.sender) : 'unknown (no message record)'],
      ['received', message?.receivedAt ?? '-'],
      ['held', message?.held ? 'yes' : 'no'],
    ]));
    out.write('\n');
    const rows = history.recipients.map((state) => [
      state.recipient,
      state.status,
      String(state.attempts),
      orDash(state.nextAttemptAt),
      orDash(state.lastMx),
      state.lastReply ? firstLine(state.lastReply.text) : '-',
    ]);
    out.write(formatTable(['RECIPIENT', 'STATUS', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST MX', 'LAST REPLY'], rows));
    out.write('\n');
    out.write(history.events.length === 0 ? 'no events recorded\n' : formatTable(EVENT_HEADERS, history.events.map(eventRow)));
    return EXIT_OK;
  },
};

/** `bouncegate segments`: GET /api/segments. */
export const segmentsCommand: CommandSpec = {
  name: 'segments',
  usage: 'segments [--by domain|mx|text|reason|campaign|source] [--since TIME] [--until TIME] [--limit N] [--json]',
  summary: 'count events by domain, MX host, normalised reply text, reason, campaign or source, most failures first',
  positionals: [],
  options: {
    by: { type: 'string', value: 'KEY', help: 'domain (default), mx, text, reason, campaign or source' },
    since: { type: 'string', value: 'TIME', help: `start of the window (default 7 days back); ${TIME_HELP}` },
    until: { type: 'string', value: 'TIME', help: 'end of the window (default now)' },
    limit: { type: 'string', value: 'N', help: 'at most N segments, 1 to 1000 (default 50)' },
    json: JSON_OPTION,
  },

  async run(context) {
    const query = {
      by: stringOption(context.options, 'by'),
      since: absoluteTime('since', stringOption(context.options, 'since'), this.usage),
      until: absoluteTime('until', stringOption(context.options, 'until'), this.usage),
      limit: stringOption(context.options, 'limit'),
    };
    const result = await callApi(this.usage, () =>
      context.client().get<{ by: string; segments: Segment[]; total: number }>('/api/segments', query),
    );
    if (context.options.json === true) {
      printJson(context.io, result);
      return EXIT_OK;
    }
    if (result.segments.length === 0) {
      context.io.stdout.write('no events in the window\n');
      return EXIT_OK;
    }
    const rows = result.segments.map((segment) => [
      String(segment.bounced),
      String(segment.deferred),
      String(segment.expired),
      String(segment.suppressed),
      String(segment.delivered),
      segment.value,
    ]);
    context.io.stdout.write(formatTable(['BOUNCED', 'DEFERRED', 'EXPIRED', 'SUPPRESSED', 'DELIVERED', result.by.toUpperCase()], rows));
    if (result.total > result.segments.length) {
      context.io.stdout.write(`${result.segments.length} of ${result.total} segments shown\n`);
    }
    return EXIT_OK;
  },
};

/** `bouncegate triage`: GET /api/triage. */
export const triageCommand: CommandSpec = {
  name: 'triage',
  usage: 'triage (--domain DOMAIN | --mx HOST) [--since TIME] [--until TIME] [--json]',
  summary: "tell which pattern a domain's or MX host's recent failures fit, with the evidence and what to do",
  positionals: [],
  options: {
    domain: { type: 'string', value: 'DOMAIN', help: 'the recipient domain to judge' },
    mx: { type: 'string', value: 'HOST', help: 'the MX host to judge' },
    since: { type: 'string', value: 'TIME', help: `start of the window (default 7 days back); ${TIME_HELP}` },
    until: { type: 'string', value: 'TIME', help: 'end of the window (default now)' },
    json: JSON_OPTION,
  },

  async run(context) {
    const domain = stringOption(context.options, 'domain');
    const mx = stringOption(context.options, 'mx');
    if ((domain === undefined) === (mx === undefined)) {
      throw new UsageError('give exactly one of --domain and --mx', this.usage);
    }
    const query = {
      domain,
      mx,
      since: absoluteTime('since', stringOption(context.options, 'since'), this.usage),
      until: absoluteTime('until', stringOption(context.options, 'until'), this.usage),
    };
    const result = await callApi(this.usage, () => context.client().get<TriageResult>('/api/triage', query));
    if (context.options.json === true) {
      printJson(context.io, result);
      return EXIT_OK;
    }
    const evidence = result.evidence;
    context.io.stdout.write(
      formatFields([
        ['verdict', result.verdict],
        ['summary', result.summary],
        ['action', result.action],
        ['window', `${result.since} to ${result.until}`],
        ['events', `${result.totals.events} (${result.totals.delivered} delivered, ${result.totals.bounced} bounced, ${result.totals.deferred} deferred)`],
        ['recipients', evidence.recipients.join(', ') || '-'],
        ['mx', evidence.mx.join(', ') || '-'],
        ['evidence', evidence.eventIds.join(' ') || '-'],
        ['sample reply', evidence.sampleText === null ? '-' : firstLine(evidence.sampleText)],
      ]),
    );
    return EXIT_OK;
  },
};

/** `bouncegate escalate`: GET /api/escalate, printed as the message to send. */
export const escalateCommand: CommandSpec = {
  name: 'escalate',
  usage: 'escalate --domain DOMAIN [--since TIME] [--until TIME] [--json]',
  summary: "print the newest rejection at a domain as a message for the recipient's mail admin",
  positionals: [],
  required: { domain: '--domain is required, e.g. --domain example.com' },
  options: {
    domain: { type: 'string', value: 'DOMAIN', help: 'the recipient domain' },
    since: { type: 'string', value: 'TIME', help: `start of the window (default 7 days back); ${TIME_HELP}` },
    until: { type: 'string', value: 'TIME', help: 'end of the window (default now)' },
    json: JSON_OPTION,
  },

  async run(context) {
    const query = {
      domain: stringOption(context.options, 'domain'),
      format: 'json',
      since: absoluteTime('since', stringOption(context.options, 'since'), this.usage),
      until: absoluteTime('until', stringOption(context.options, 'until'), this.usage),
    };
    let packet: EscalationPacket;
    try {
      packet = await callApi(this.usage, () => context.client().get<EscalationPacket>('/api/escalate', query));
    } catch (error) {
      if (error instanceof AdminApiError && error.status === 404) {
        throw new CommandError(error.message);
      }
      throw error;
    }
    if (context.options.json === true) {
      printJson(context.io, packet);
      return EXIT_OK;
    }
    // The reply text comes from a remote server: control characters other than line breaks are masked.
    context.io.stdout.write(packet.text.split('\n').map(terminalSafe).join('\n'));
    return EXIT_OK;
  },
};
