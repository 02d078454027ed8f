import type { Webhook } from '../../webhooks/types.js';
import { AdminApiError } from '../admin-client.js';
import { CommandError, EXIT_OK } from './io.js';
import { callApi, printJson } from './output.js';
import { JSON_OPTION, stringOption, type CommandSpec } from './spec.js';
import { formatTable } from './table.js';

/** `bouncegate webhooks`: GET /api/webhooks. */
export const webhooksListCommand: CommandSpec = {
  name: 'webhooks',
  usage: 'webhooks [list] [--json]',
  summary: 'list registered webhooks (secrets are never shown again)',
  positionals: [],
  options: { json: JSON_OPTION },

  async run(context) {
    const result = await callApi(this.usage, () => context.client().get<{ webhooks: Webhook[] }>('/api/webhooks'));
    if (context.options.json === true) {
      printJson(context.io, result);
      return EXIT_OK;
    }
    if (result.webhooks.length === 0) {
      context.io.stdout.write('no webhooks registered\n');
      return EXIT_OK;
    }
    const rows = result.webhooks.map((hook) => [hook.id, hook.events.join(','), hook.createdAt, hook.url]);
    context.io.stdout.write(formatTable(['ID', 'EVENTS', 'CREATED', 'URL'], rows));
    return EXIT_OK;
  },
};

/** `bouncegate webhooks add`: POST /api/webhooks. */
export const webhooksAddCommand: CommandSpec = {
  name: 'webhooks add',
  usage: 'webhooks add URL --events TYPES [--secret SECRET] [--allow-link-local] [--json]',
  summary: 'register a URL that receives signed POSTs of the given event types',
  positionals: ['URL'],
  required: { events: '--events is required: a comma-separated list of bounced, deferred, suppressed, expired, delivered, dsn' },
  options: {
    events: { type: 'string', value: 'TYPES', help: 'comma-separated: bounced, deferred, suppressed, expired, delivered, dsn' },
    secret: { type: 'string', value: 'SECRET', help: 'HMAC secret of at least 16 characters (default: generated and printed once)' },
    'allow-link-local': { type: 'boolean', help: 'allow a link-local or cloud metadata address as the host' },
    json: JSON_OPTION,
  },

  async run(context) {
    const body: Record<string, unknown> = {
      url: context.positionals[0] ?? '',
      events: (stringOption(context.options, 'events') ?? '').split(',').map((type) => type.trim()).filter((type) => type !== ''),
    };
    const secret = stringOption(context.options, 'secret');
    if (secret !== undefined) {
      body.secret = secret;
    }
    if (context.options['allow-link-local'] === true) {
      body.allowLinkLocal = true;
    }
    const created = await callApi(this.usage, () => context.client().send<Webhook & { secret: string }>('POST', '/api/webhooks', body));
    if (context.options.json === true) {
      printJson(context.io, created);
      return EXIT_OK;
    }
    context.io.stdout.write(`registered webhook ${created.id} for ${created.events.join(', ')}\n`);
    context.io.stdout.write(`secret (shown only now; verify X-Bouncegate-Signature with it): ${created.secret}\n`);
    return EXIT_OK;
  },
};

/** `bouncegate webhooks remove`: DELETE /api/webhooks/{id}. */
export const webhooksRemoveCommand: CommandSpec = {
  name: 'webhooks remove',
  usage: 'webhooks remove ID [--json]',
  summary: 'remove a webhook and its pending deliveries',
  positionals: ['ID'],
  options: { json: JSON_OPTION },

  async run(context) {
    const id = context.positionals[0] ?? '';
    const result = await callApi(this.usage, () => context.client().send<{ id: string; removed: boolean }>('DELETE', `/api/webhooks/${encodeURIComponent(id)}`)).catch(
      (error: unknown) => {
        if (error instanceof AdminApiError && error.status === 404) {
          throw new CommandError(`webhook ${id} not found`);
        }
        throw error;
      },
    );
    if (context.options.json === true) {
      printJson(context.io, result);
      return EXIT_OK;
    }
    context.io.stdout.write(`removed webhook ${id}\n`);
    return EXIT_OK;
  },
};
