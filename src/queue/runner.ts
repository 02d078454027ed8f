import type { Logger } from 'pino';
import { domainOf } from '../core/address.js';
import type { Classification, Classifier } from '../core/classification.js';
import type { Reply } from '../core/reply.js';
import { verpAddress } from '../core/verp.js';
import type { QueueId } from '../core/types.js';
import type { Config } from '../config/schema.js';
import type { ConcurrencyLimiter } from '../delivery/limiter.js';
import type { SessionPool } from '../delivery/pool.js';
import type { DeliveryThreads } from '../delivery/threads.js';
import type { DnsResolver } from '../delivery/resolve.js';
import { routeDomain } from '../delivery/route.js';
import { deliverMessage, type HostFailure, type RecipientResult, type SessionInfo } from '../delivery/transaction.js';
import type { MessageBodies } from '../spool/bodies.js';
import type { EventStore, NewEvent } from '../store/events.js';
import { FINAL_STATUSES, type MessageRecord, type QueueOperation, type QueueStore, type RecipientRecord } from '../store/queue.js';
import type { SuppressionStore } from '../store/suppressions.js';
import type { GuardAlert, SuppressionGuard } from '../suppression/guard.js';
import { queueBounce } from './bounce.js';
import { decide, type Decision } from './outcome.js';

/** Maximum sleep of the scheduler between checks of the due index, in ms. */
const MAX_IDLE_MS = 30_000;
/** Pause before rescanning when due recipients could not start, in ms. */
const BUSY_RESCAN_MS = 250;
/** Due recipients read per scan of the due index. */
const SCAN_BATCH = 1000;
/** The classification of a delivered recipient, which no rule is run for. */
const DELIVERED: Classification = { reason: 'delivered', side: 'recipient', permanent: false, suppress: false, rule: 'delivered' };
/** Bytes of inline bodies kept in memory for attempts not yet started; beyond it they are read back. */
const MAX_CACHED_BODY_BYTES = 64 * 1024 * 1024;

/** Dependencies of the queue runner. */
export interface RunnerDeps {
  config: Config;
  logger: Logger;
  queue: QueueStore;
  bodies: MessageBodies;
  events: EventStore;
  suppressions: SuppressionStore;
  classifier: Classifier;
  limiter: ConcurrencyLimiter;
  resolver: DnsResolver;
  /** Commits queue operations durably (the ingress group committer). */
  commit(operations: QueueOperation[]): Promise<void>;
  /**
   * Writes the outcome of an attempt; without it, `commit` is used. The relay passes an unsynced
   * write that waits up to a few ms for the next batch, so a crash before the next synced write
   * makes the runner try the recipient again.
   */
  commitOutcome?(operations: QueueOperation[]): Promise<void>;
  /** Holds suppressions for review when one MX host rejects many recipients the same way. */
  guard?: SuppressionGuard;
  /** Called when the guard trips. */
  onAlert?: (alert: GuardAlert) => void;
  /** Reuses SMTP sessions to the same destination; absent, every attempt connects anew. */
  pool?: SessionPool;
  /** Runs the SMTP client side in worker threads; absent, it runs on this thread with `pool`. */
  threads?: DeliveryThreads;
  /** HMAC key of VERP return paths (used when bounce.verp is on). */
  verpSecret?: string;
  /** Clock in ms since the epoch; injectable for tests. */
  now?: () => number;
}

interface Batch {
  queueId: QueueId;
  routeKey: string;
  domain: string;
  indexes: number[];
  message: MessageRecord;
  /** Every recipient record of the message as just committed by the listener; absent after a scan. */
  records?: RecipientRecord[];
  /** The inline body as received, while it is kept in memory. */
  body?: Buffer;
}

/** Records and body that the listener hands over with a message it just queued. */
export interface Handoff {
  records: RecipientRecord[];
  body: Buffer | null;
}

/**
 * Schedules and runs delivery attempts, one transaction per message and destination; records every
 * outcome and writes the next state. A message accepted by the listener is handed over in memory and
 * starts at once. Retries and recipients left from before a restart come from the due index in
 * LevelDB, read when the earliest due time arrives.
 */
export class QueueRunner {
  private readonly deps: RunnerDeps;
  private readonly now: () => number;
  /** Recipients waiting for a connection slot or being attempted, as "queueId\0index". */
  private readonly inFlight = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  /** Messages changed by an operator since they were handed over: their attempts read the store. */
  private readonly stale = new Set<string>();
  private cachedBodyBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private scanning = false;
  private rescan = false;
  private stopped = true;

  constructor(deps: RunnerDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /** Starts scheduling; unfinished recipients from before a restart are due at once or at their time. */
  start(): void {
    this.stopped = false;
    this.wake();
  }

  /**
   * Starts delivery of a message that was just queued, without reading the due index. With a
   * handoff, the attempt uses the records and body it carries instead of reading them back.
   */
  enqueue(message: MessageRecord, handoff?: Handoff): void {
    if (this.stopped) {
      return;
    }
    const batches = new Map<string, Batch>();
    for (const [index, recipient] of message.recipients.entries()) {
      if (this.inFlight.has(flightKey(message.queueId, index))) {
        continue;
      }
      this.addToBatch(batches, message, index, recipient);
    }
    for (const batch of batches.values()) {
      if (handoff) {
        batch.records = handoff.records;
        if (handoff.body && this.cachedBodyBytes + handoff.body.length <= MAX_CACHED_BODY_BYTES) {
          batch.body = handoff.body;
          this.cachedBodyBytes += handoff.body.length;
        }
      }
      this.dispatch(batch);
    }
  }

  /**
   * Marks a message as changed by an operator (held, released, deleted): attempts that were handed
   * its records in memory read them from the store instead.
   */
  invalidate(queueId: string): void {
    this.stale.add(queueId);
  }

  /** Asks for a scan of the due index as soon as possible (after a release, a retry, a pause ending). */
  wake(): void {
    if (this.stopped) {
      return;
    }
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    this.arm(this.now());
  }

  /** Makes every unfinished recipient of a message due now. Returns false when the message is unknown. */
  async retryNow(queueId: string): Promise<boolean> {
    const records = await this.deps.queue.getRecipients(queueId);
    if (records.length === 0) {
      return false;
    }
    const now = this.now();
    const updates = records
      .filter((record) => record.nextAttemptAt !== null && !this.inFlight.has(flightKey(record.queueId, record.index)))
      .map((record) => ({ before: record, after: { ...record, nextAttemptAt: now } }));
    await this.deps.queue.updateRecipients(updates);
    this.wake();
    return true;
  }

  /** Stops scheduling and waits for attempts under way; recipients waiting for a slot stay due. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    await Promise.allSettled([...this.running]);
  }

  /** Resolves when no attempt is under way (used by tests and the benchmark). */
  async idle(): Promise<void> {
    while (this.running.size > 0) {
      await Promise.allSettled([...this.running]);
    }
  }

  /** Sets the scan timer to fire at `at` unless it already fires earlier. */
  private arm(at: number): void {
    if (this.stopped || at >= this.timerAt) {
      return;
    }
    if (this.timer) {
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      void this.scan();
    }, Math.max(0, at - this.now()));
    this.timer.unref?.();
  }

  private async scan(): Promise<void> {
    if (this.stopped || this.scanning) {
      return;
    }
    this.scanning = true;
    this.rescan = false;
    let full = false;
    try {
      full = await this.dispatchDue();
    } catch (error) {
      this.deps.logger.error({ err: error }, 'queue scan failed; retrying in 5 s');
      this.scanning = false;
      this.arm(this.now() + 5000);
      return;
    }
    this.scanning = false;

    if (this.rescan || full) {
      this.arm(this.now());
      return;
    }
    const next = await this.nextWaitingTime().catch(() => null);
    this.arm(next === null ? this.now() + MAX_IDLE_MS : Math.min(next, this.now() + MAX_IDLE_MS));
  }

  /** Returns the earliest due time of a recipient that is not already in flight, or null. */
  private async nextWaitingTime(): Promise<number | null> {
    const entries = await this.deps.queue.dueRecipients(Number.MAX_SAFE_INTEGER, this.inFlight.size + 1);
    const waiting = entries.find((entry) => !this.inFlight.has(flightKey(entry.queueId, entry.index)));
    if (!waiting) {
      return null;
    }
    // A due recipient of a paused domain or a held message is looked at again after a short pause.
    return Math.max(waiting.at, this.now() + BUSY_RESCAN_MS);
  }

  /** Dispatches due recipients; returns true when the scan read a full batch and more may be due. */
  private async dispatchDue(): Promise<boolean> {
    const due = await this.deps.queue.dueRecipients(this.now(), SCAN_BATCH + this.inFlight.size);
    const batches = new Map<string, Batch>();
    const messages = new Map<string, MessageRecord | null>();
    let fresh = 0;

    for (const item of due) {
      if (this.inFlight.has(flightKey(item.queueId, item.index))) {
        continue;
      }
      fresh += 1;
      if (!messages.has(item.queueId)) {
        messages.set(item.queueId, await this.deps.queue.getMessage(item.queueId));
      }
      const message = messages.get(item.queueId);
      const recipient = message?.recipients[item.index];
      if (!message || recipient === undefined || message.held) {
        continue;
      }
      this.addToBatch(batches, message, item.index, recipient);
    }

    for (const batch of batches.values()) {
      this.dispatch(batch);
    }
    return fresh >= SCAN_BATCH;
  }

  private addToBatch(batches: Map<string, Batch>, message: MessageRecord, index: number, recipient: string): void {
    const domain = domainOf(recipient);
    // With VERP every recipient has its own return path, so its own transaction.
    const routeKey = this.verpFor(message, index) ? `${this.routeKey(domain)}\u0000${index}` : this.routeKey(domain);
    const batchKey = `${message.queueId}\u0000${routeKey}`;
    const batch = batches.get(batchKey) ?? { queueId: message.queueId, routeKey, domain, indexes: [], message };
    batch.indexes.push(index);
    batches.set(batchKey, batch);
  }

  /** Waits for a connection slot for the batch's domain, then runs the attempt. */
  private dispatch(batch: Batch): void {
    if (this.deps.guard?.isPaused(batch.domain)) {
      // The recipients stay due; a scan after the pause picks them up and reads the body back.
      if (batch.body) {
        this.cachedBodyBytes -= batch.body.length;
        delete batch.body;
      }
      this.arm(this.now() + BUSY_RESCAN_MS * 4);
      return;
    }
    for (const index of batch.indexes) {
      this.inFlight.add(flightKey(batch.queueId, index));
    }
    const finish = (): void => {
      for (const index of batch.indexes) {
        this.inFlight.delete(flightKey(batch.queueId, index));
      }
      if (batch.body) {
        this.cachedBodyBytes -= batch.body.length;
        delete batch.body;
      }
    };

    void this.deps.limiter.acquire(batch.domain).then((acquired) => {
      let held = true;
      const release = (): void => {
        if (held) {
          held = false;
          acquired();
        }
      };
      if (this.stopped) {
        release();
        finish();
        return;
      }
      const attempt = this.attempt(batch, release)
        .catch((error: unknown) => {
          this.deps.logger.error({ err: error, queueId: batch.queueId, domain: batch.domain }, 'delivery attempt failed with an internal error');
          // The recipients stay due with their old time; look again after a pause.
          this.arm(this.now() + 5000);
        })
        .finally(() => {
          release();
          finish();
          this.running.delete(attempt);
        });
      this.running.add(attempt);
    });
  }

  /** Returns the VERP return path for a recipient, or null when VERP is off or the message is a bounce. */
  private verpFor(message: MessageRecord, index: number): string | null {
    const bounce = this.deps.config.bounce;
    if (!bounce.verp || !bounce.domain || !this.deps.verpSecret || message.sender === '' || message.isBounce) {
      return null;
    }
    return verpAddress({ queueId: message.queueId, index }, bounce.domain, this.deps.verpSecret);
  }

  private routeKey(domain: string): string {
    const relay = this.deps.config.relay;
    const route = relay.routes[domain];
    if (route) {
      return `route:${route}`;
    }
    return relay.smarthost ? `smarthost:${relay.smarthost}` : `mx:${domain}`;
  }

  /**
   * Runs one attempt. `releaseSlot` gives the connection slot back. It is called when the SMTP
   * transaction ends, so the next transaction to the domain does not wait for this one's writes.
   */
  private async attempt(batch: Batch, releaseSlot: () => void): Promise<void> {
    const { deps } = this;
    const fresh = batch.records !== undefined && !this.stale.has(batch.queueId);
    const message = fresh ? batch.message : await deps.queue.getMessage(batch.queueId);
    if (!message) {
      return;
    }
    const now = this.now();
    const allRecords = fresh && batch.records ? batch.records : await deps.queue.getRecipients(batch.queueId);
    // The due list of a scan can be stale: an attempt that finished meanwhile moved the recipient's
    // next attempt into the future, so only recipients still due now are tried.
    const records = allRecords.filter(
      (record) => batch.indexes.includes(record.index) && record.nextAttemptAt !== null && record.nextAttemptAt <= now,
    );
    if (records.length === 0) {
      return;
    }

    const toSend: RecipientRecord[] = [];
    const updates: Array<{ before: RecipientRecord; after: RecipientRecord }> = [];
    const events: NewEvent[] = [];

    // The list may have changed since the message was queued: a suppressed recipient is never tried.
    for (const record of records) {
      const entry = await deps.suppressions.findActive(record.recipient);
      if (!entry) {
        toSend.push(record);
        continue;
      }
      const after = finish(record, 'suppressed', now, null, entry.first.mx);
      updates.push({ before: record, after });
      events.push(this.event(message, record, after.attempts, now, {
        stage: 'queue',
        reply: { code: entry.first.code, enhancedCode: entry.first.enhancedCode, text: entry.first.text, stage: 'queue', local: true, localPermanent: true },
        session: { mx: entry.first.mx, remoteIp: entry.first.remoteIp, remotePort: null, localIp: null, tls: null },
        decision: { action: 'suppressed', status: 'suppressed', permanent: true, nextAttemptAt: null, suppress: false },
        reason: entry.reason,
        side: 'recipient',
        rule: null,
        suppressed: true,
      }));
      deps.logger.info({ queueId: message.queueId, recipient: record.recipient, reason: entry.reason }, 'recipient suppressed before delivery; not tried');
    }

    const bounced: Array<{ record: RecipientRecord; reply: Reply; mx: string | null; at: number }> = [];
    if (toSend.length > 0) {
      const outcome = await this.send(message, batch.domain, toSend, batch.body);
      releaseSlot();
      const attemptTime = this.now();

      // When every host failed, the last failure is also each recipient's result: record it once.
      const skipped = outcome.results.some((result) => outcome.hostFailures.at(-1)?.reply === result.reply)
        ? outcome.hostFailures.slice(0, -1)
        : outcome.hostFailures;
      for (const failure of skipped) {
        for (const record of toSend) {
          events.push(this.classified(message, record, record.attempts + 1, attemptTime, failure.reply, failure.session, {
            action: 'deferred', status: 'deferred', permanent: false, nextAttemptAt: null, suppress: false,
          }));
        }
      }

      for (const [position, record] of toSend.entries()) {
        const result = outcome.results[position];
        if (!result) {
          continue;
        }
        const attempts = record.attempts + 1;
        // A delivered recipient needs no bounce class: its event's reason is "delivered".
        const classification = result.delivered ? DELIVERED : deps.classifier.classify(result.reply, outcome.session.mx);
        const decision = decide(result.reply, result.delivered, classification, attempts, message.receivedAt, attemptTime, deps.config.retry);
        const after: RecipientRecord = {
          ...record,
          status: decision.status,
          attempts,
          nextAttemptAt: decision.nextAttemptAt,
          lastReply: result.reply,
          lastMx: outcome.session.mx,
          updatedAt: new Date(attemptTime).toISOString(),
        };
        updates.push({ before: record, after });
        const event = this.classified(message, record, attempts, attemptTime, result.reply, outcome.session, decision, classification);
        events.push(event);
        this.logAttempt(message, record, attempts, result, outcome.session, decision, event.reason);

        if (decision.action === 'delivered') {
          deps.guard?.noteDelivery(outcome.session.mx, batch.domain);
        }
        if (decision.suppress) {
          const guarded = deps.guard?.noteSuppressingFailure({
            mx: outcome.session.mx,
            domain: batch.domain,
            recipient: record.recipient,
            text: result.reply.text,
          });
          if (guarded?.alert) {
            deps.logger.error({ ...guarded.alert, recipients: guarded.alert.recipients.length }, 'mass suppression guard tripped; delivery to the domain paused and new suppressions held for review');
            deps.onAlert?.(guarded.alert);
          }
          await deps.suppressions.recordFailure(
            record.recipient,
            {
              time: new Date(attemptTime).toISOString(),
              code: result.reply.code,
              enhancedCode: result.reply.enhancedCode,
              text: result.reply.text,
              mx: outcome.session.mx,
              remoteIp: outcome.session.remoteIp,
              queueId: message.queueId,
            },
            { reason: classification.reason, origin: 'delivery', status: guarded?.status ?? 'active' },
          );
        }
        if (decision.action === 'bounced' || decision.action === 'expired') {
          bounced.push({ record, reply: result.reply, mx: outcome.session.mx, at: attemptTime });
        }
      }
    }

    await deps.events.append(events);
    if (bounced.length > 0 && !message.isBounce && message.sender !== '') {
      await queueBounce(deps, message, bounced).then(
        (bounce) => this.enqueue(bounce.message, bounce),
        (error: unknown) => {
          deps.logger.error({ err: error, queueId: message.queueId }, 'composing the bounce for the sender failed');
        },
      );
    }
    // The body goes when every recipient has a final status. A held recipient has no next attempt
    // but is not finished. Recipients outside this attempt may be in another attempt right now, so
    // their state is read again after this attempt's commit.
    const finished = new Map(updates.map(({ after }) => [after.index, after]));
    const doneHere = updates.every(({ after }) => FINAL_STATUSES.has(after.status));
    const othersOpen = allRecords.some((record) => !finished.has(record.index) && !FINAL_STATUSES.has(record.status));
    const removal = doneHere && !othersOpen ? deps.bodies.removeOperation(message) : null;

    const operations = deps.queue.recipientUpdateOperations(updates);
    if (removal) {
      operations.push(removal);
    }
    await (deps.commitOutcome ?? deps.commit)(operations);
    for (const { after } of updates) {
      if (after.nextAttemptAt !== null) {
        this.arm(after.nextAttemptAt);
      }
    }

    if (!doneHere) {
      return;
    }
    if (removal) {
      this.stale.delete(message.queueId);
      return;
    }
    if (othersOpen && (await deps.queue.getRecipients(message.queueId)).some((record) => !FINAL_STATUSES.has(record.status))) {
      return;
    }
    await deps.bodies.remove(message);
    this.stale.delete(message.queueId);
    deps.logger.debug({ queueId: message.queueId }, 'message finished; body removed');
  }

  private async send(
    message: MessageRecord,
    domain: string,
    records: RecipientRecord[],
    body: Buffer | undefined,
  ): Promise<{ session: SessionInfo; results: RecipientResult[]; hostFailures: HostFailure[] }> {
    const { deps } = this;
    const lookup = await routeDomain(domain, deps.config.relay, deps.resolver);
    const emptySession: SessionInfo = { mx: null, remoteIp: null, remotePort: null, localIp: null, tls: null };
    if (!lookup.ok) {
      return {
        session: emptySession,
        results: records.map((record) => ({ recipient: record.recipient, reply: lookup.reply, delivered: false })),
        hostFailures: [],
      };
    }

    const outgoing = {
      queueId: message.queueId,
      sender: (records.length === 1 && records[0] ? this.verpFor(message, records[0].index) : null) ?? message.sender,
      recipients: records.map((record) => record.recipient),
      size: message.size,
      smtputf8: message.smtputf8,
    };
    const options = {
      heloName: deps.config.hostname,
      timeoutMs: deps.config.relay.timeout * 1000,
      opportunisticTls: deps.config.relay.opportunisticTls,
      localAddress: deps.config.relay.localAddress,
    };
    // Inline bodies, the bulk of the traffic, go to the delivery threads. Bodies in spool files are
    // big and few, and streaming them from this thread keeps their buffers in one heap.
    if (deps.threads && message.inline) {
      const located = await deps.bodies.locate(message, body);
      return deps.threads.deliver({ message: outgoing, body: located, destinations: lookup.destinations, options });
    }
    return deliverMessage({ ...outgoing, openBody: () => deps.bodies.open(message, body) }, lookup.destinations, {
      ...options,
      logger: deps.logger,
      ...(deps.pool ? { pool: deps.pool } : {}),
    });
  }

  private classified(
    message: MessageRecord,
    record: RecipientRecord,
    attempt: number,
    time: number,
    reply: Reply,
    session: SessionInfo,
    decision: Decision,
    known?: Classification,
  ): NewEvent {
    // The caller passes the classification it already made for the decision, so each reply is
    // classified once.
    const classification = known ?? this.deps.classifier.classify(reply, session.mx);
    const delivered = decision.action === 'delivered';
    return this.event(message, record, attempt, time, {
      stage: reply.stage,
      reply,
      session,
      decision,
      reason: delivered ? 'delivered' : classification.reason,
      side: delivered ? null : classification.side,
      rule: delivered ? null : classification.rule,
      suppressed: decision.suppress,
    });
  }

  private event(
    message: MessageRecord,
    record: RecipientRecord,
    attempt: number,
    time: number,
    details: {
      stage: NewEvent['stage'];
      reply: Reply;
      session: SessionInfo;
      decision: Decision;
      reason: string;
      side: NewEvent['side'];
      rule: string | null;
      suppressed: boolean;
    },
  ): NewEvent {
    return {
      time: new Date(time).toISOString(),
      queueId: message.queueId,
      messageId: message.messageId,
      sender: message.sender,
      recipient: record.recipient,
      stage: details.stage,
      mx: details.session.mx,
      remoteIp: details.session.remoteIp,
      remotePort: details.session.remotePort,
      localIp: details.session.localIp,
      tls: details.session.tls,
      code: details.reply.code,
      enhancedCode: details.reply.enhancedCode,
      text: details.reply.text,
      attempt,
      permanent: details.decision.permanent,
      reason: details.reason,
      action: details.decision.action,
      source: message.source,
      campaign: message.campaign,
      side: details.side,
      rule: details.rule,
      suppressed: details.suppressed,
    };
  }

  private logAttempt(
    message: MessageRecord,
    record: RecipientRecord,
    attempt: number,
    result: RecipientResult,
    session: SessionInfo,
    decision: Decision,
    reason: string,
  ): void {
    const fields = {
      queueId: message.queueId,
      recipient: record.recipient,
      attempt,
      mx: session.mx,
      remoteIp: session.remoteIp,
      code: result.reply.code,
      enhancedCode: result.reply.enhancedCode,
      reply: result.reply.text,
      action: decision.action,
      reason,
      nextAttemptAt: decision.nextAttemptAt === null ? null : new Date(decision.nextAttemptAt).toISOString(),
    };
    if (decision.action === 'delivered') {
      this.deps.logger.info(fields, 'delivery attempt');
    } else {
      this.deps.logger.warn(fields, 'delivery attempt');
    }
  }
}

function flightKey(queueId: string, index: number): string {
  return `${queueId}\u0000${index}`;
}

function finish(record: RecipientRecord, status: RecipientRecord['status'], now: number, reply: Reply | null, mx: string | null): RecipientRecord {
  return { ...record, status, nextAttemptAt: null, lastReply: reply, lastMx: mx, updatedAt: new Date(now).toISOString() };
}
