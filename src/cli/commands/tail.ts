import type { DeliveryEvent } from '../../core/types.js';
import { EXIT_OK, UsageError } from './io.js';
import { callApi } from './output.js';
import { JSON_OPTION, stringOption, type CommandSpec } from './spec.js';
import { eventRow } from './events.js';
import { terminalSafe } from './table.js';

/** CLI option name to stream filter parameter. */
const FILTERS: Record<string, string> = {
  recipient: 'recipient',
  domain: 'domain',
  action: 'action',
  'queue-id': 'queueId',
  mx: 'mx',
  'remote-ip': 'remoteIp',
  source: 'source',
  stage: 'stage',
  code: 'code',
  'enhanced-code': 'enhancedCode',
  reason: 'reason',
  campaign: 'campaign',
};

/** Signals that end `bouncegate tail`. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** `bouncegate tail`: GET /api/events/stream, printed as events arrive. */
export const tailCommand: CommandSpec = {
  name: 'tail',
  usage: 'tail [--recipient ADDRESS] [--domain DOMAIN] [--action ACTION] [other event filters] [--count N] [--json]',
  summary: 'print new delivery events as they are recorded, until interrupted',
  positionals: [],
  options: {
    recipient: { type: 'string', value: 'ADDRESS', help: 'only events for this recipient' },
    domain: { type: 'string', value: 'DOMAIN', help: 'only events for recipients at this domain' },
    action: { type: 'string', value: 'ACTION', help: 'delivered, deferred, bounced, expired or suppressed' },
    'queue-id': { type: 'string', value: 'ID', help: 'only events of this queued message' },
    mx: { type: 'string', value: 'HOST', help: 'only replies from this MX host' },
    'remote-ip': { type: 'string', value: 'IP', help: 'only replies from this remote MTA address' },
    source: { type: 'string', value: 'IP|USER', help: 'only mail submitted from this client IP or by this AUTH user' },
    stage: { type: 'string', value: 'STAGE', help: 'only events of this SMTP step, e.g. rcpt or dsn' },
    code: { type: 'string', value: 'CODE', help: 'only replies with this basic code' },
    'enhanced-code': { type: 'string', value: 'CODE', help: 'only replies with this enhanced status code' },
    reason: { type: 'string', value: 'REASON', help: 'only events of this bounce class' },
    campaign: { type: 'string', value: 'NAME', help: 'only events of this campaign' },
    count: { type: 'string', value: 'N', help: 'stop after N events' },
    json: { ...JSON_OPTION, help: 'print each event as one line of JSON' },
  },

  async run(context) {
    const query: Record<string, string | undefined> = {};
    for (const [option, parameter] of Object.entries(FILTERS)) {
      query[parameter] = stringOption(context.options, option);
    }
    const countText = stringOption(context.options, 'count');
    const count = countText === undefined ? Infinity : Number(countText);
    if (!(count === Infinity || (Number.isSafeInteger(count) && count > 0))) {
      throw new UsageError(`invalid --count "${countText}": expected a positive integer`, this.usage);
    }

    const controller = new AbortController();
    const stop = () => controller.abort();
    for (const signal of STOP_SIGNALS) {
      process.once(signal, stop);
    }
    let seen = 0;
    try {
      await callApi(this.usage, () =>
        context.client().stream(
          query,
          (event: DeliveryEvent) => {
            seen += 1;
            const line = context.options.json === true ? JSON.stringify(event) : eventRow(event).map(terminalSafe).join('  ');
            context.io.stdout.write(`${line}\n`);
            return seen < count;
          },
          controller.signal,
        ),
      );
    } finally {
      for (const signal of STOP_SIGNALS) {
        process.off(signal, stop);
      }
    }
    return EXIT_OK;
  },
};
