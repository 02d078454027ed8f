/** Event types a webhook can subscribe to. */
export const WEBHOOK_EVENT_TYPES = ['bounced', 'deferred', 'suppressed', 'expired', 'delivered', 'dsn'] as const;

/** One event type: an action, or "dsn" for events read from asynchronous bounces. */
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A registered webhook as the API shows it; the secret is never shown after creation. */
export interface Webhook {
  id: string;
  url: string;
  events: WebhookEventType[];
  /** Whether the URL may point at a link-local or cloud metadata address. */
  allowLinkLocal: boolean;
  createdAt: string;
}

/** Fields of a registration; the secret is generated when absent. */
export interface WebhookRegistration {
  url: string;
  events: WebhookEventType[];
  secret?: string;
  allowLinkLocal?: boolean;
}

/** Registration, listing and removal of webhooks, as the admin API calls them. */
export interface WebhookService {
  list(): Promise<Webhook[]>;
  /** Registers a webhook and returns it with its secret, which is shown this once. */
  create(registration: WebhookRegistration): Promise<{ webhook: Webhook; secret: string }>;
  /** Removes a webhook and its pending deliveries; false when there is no such webhook. */
  remove(id: string): Promise<boolean>;
}

/** A webhook URL that cannot be registered: not http(s), malformed, or pointing at a forbidden address. */
export class WebhookUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookUrlError';
  }
}
