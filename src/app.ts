import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createLogger } from './core/logger.js';
import { missingNodeFlags } from './core/node-flags.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { createAdminServer, loadOrCreateToken } from './admin/server.js';
import { ReloadableClassifier } from './classify/reloadable.js';
import { ConcurrencyLimiter } from './delivery/limiter.js';
import { SessionPool } from './delivery/pool.js';
import { DeliveryThreads } from './delivery/threads.js';
import { createResolver } from './delivery/resolve.js';
import { ingestDsn, type DsnIngestResult } from './dsn/ingest.js';
import { loadOrCreateVerpSecret } from './dsn/secret.js';
import { createBounceListener } from './ingress/bounce-listener.js';
import { createIngress } from './ingress/server.js';
import { createRelayMetrics } from './metrics/relay-metrics.js';
import { createQueueControl } from './queue/control.js';
import { recoverSpool } from './queue/recover.js';
import { QueueRunner } from './queue/runner.js';
import { MessageBodies } from './spool/bodies.js';
import { Spool } from './spool/spool.js';
import { SuppressionGuard } from './suppression/guard.js';
import { Database } from './store/db.js';
import { EventStore } from './store/events.js';
import { GroupCommitter } from './store/group-commit.js';
import { MessageIdIndex } from './store/message-index.js';
import { QueueStore } from './store/queue.js';
import { startSuppressionSweep } from './store/suppression-sweep.js';
import { SuppressionStore } from './store/suppressions.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { WebhookStore } from './webhooks/store.js';

/** How to start the relay: a config file path, or an already validated config (tests). */
export interface StartOptions {
  configPath?: string;
  config?: Config;
  logger?: Logger;
}

/** A running relay. */
export interface Relay {
  config: Config;
  smtp: { host: string; port: number };
  admin: { host: string; port: number };
  /** Address of the bounce listener, or null when bounce.listen is null. */
  bounce: { host: string; port: number } | null;
  token: string;
  /** The classifier in use; `reload()` re-reads the rule files. */
  classifier: ReloadableClassifier;
  /** Records an asynchronous bounce as the bounce listener does. */
  ingestDsn(raw: Buffer, envelopeRecipients?: string[]): Promise<DsnIngestResult>;
  events: EventStore;
  suppressions: SuppressionStore;
  queue: QueueStore;
  runner: QueueRunner;
  close(): Promise<void>;
}

/** Opens the stores, recovers the queue, and starts the SMTP listener, the delivery queue and the admin port. */
export async function startRelay(options: StartOptions = {}): Promise<Relay> {
  const config = options.config ?? loadConfig(options.configPath);
  const logger = options.logger ?? createLogger(config.log.level);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const db = await Database.open(join(config.dataDir, 'db'));
  const normalize = { caseSensitiveLocalPart: config.suppression.caseSensitiveLocalPart };
  const queue = new QueueStore(db);
  const committer = new GroupCommitter(queue);
  // Event writes ride along with the next queue batch, synced when it is. A batch of their own cost
  // a thread-pool round trip per group of events, which made recording cost 13 % of throughput.
  const events = new EventStore(db, normalize, {
    record: config.events.record,
    write: (operations) => committer.commit(operations, { sync: false, rideAlong: true }),
  });
  await events.continueIds();
  const suppressions = new SuppressionStore(db, normalize);
  const filterBuilt = suppressions.buildFilter().then(
    () => logger.info('suppression filter built'),
    (error: unknown) => logger.error({ err: error }, 'building the suppression filter failed; checks read LevelDB'),
  );
  const spool = new Spool(config.dataDir);
  const bodies = new MessageBodies(spool, queue, config.spool.inlineMaxSize);
  await recoverSpool({ queue, spool, bodies, logger });

  const messageIndex = new MessageIdIndex(db);
  const verpSecret = loadOrCreateVerpSecret(config.dataDir, config.bounce.secret);
  const guard = new SuppressionGuard(config.suppression.guard);
  const pool = new SessionPool();
  const threads = config.relay.deliveryThreads > 0 ? new DeliveryThreads(config.relay.deliveryThreads, { logLevel: config.log.level, nice: config.relay.deliveryThreadNice }, logger) : null;
  try {
    await threads?.ready();
  } catch (error) {
    logger.error({ err: error }, 'a delivery thread could not start; stopping');
    await threads?.close();
    await filterBuilt;
    await db.close();
    throw error;
  }
  const classifier = new ReloadableClassifier(config.classification.ruleFiles, config.suppression.rules);
  const reloadRules = () => {
    try {
      classifier.reload(logger);
    } catch (error) {
      logger.error({ err: error }, 'reloading classification rules failed; the previous rules stay in use');
    }
  };
  process.on('SIGHUP', reloadRules);
  const runner = new QueueRunner({
    config,
    logger,
    queue,
    bodies,
    events,
    suppressions,
    classifier,
    limiter: new ConcurrencyLimiter(config.relay.maxConnections, config.relay.maxConnectionsPerDomain),
    resolver: createResolver(config.dns.servers, config.relay.timeout * 1000),
    commit: (operations) => committer.commit(operations),
    // Not synced, and riding along with the next batch: the next acceptance's synced write takes it
    // to disk. A crash before that means at most a second delivery of the message, as with Postfix.
    commitOutcome: (operations) => committer.commit(operations, { sync: false, rideAlong: true }),
    guard,
    verpSecret,
    pool,
    ...(threads ? { threads } : {}),
  });
  const ingest = (raw: Buffer, envelopeRecipients: string[] = []) =>
    ingestDsn(raw, envelopeRecipients, { config, logger, classifier, queue, events, suppressions, messageIndex, guard, verpSecret });

  const ingress = createIngress({
    config,
    logger,
    bodies,
    queue,
    committer,
    suppressions,
    events,
    messageIndex,
    onQueued: (message, records, body) => runner.enqueue(message, { records, body }),
  });

  const { token, created } = loadOrCreateToken(config.dataDir, config.admin.token, logger);
  const queueControl = createQueueControl({ queue, bodies, events, runner, logger });
  const metrics = createRelayMetrics({ events, queue, suppressions, guardAlerts: () => guard.alerts().length });
  const webhooks = new WebhookDispatcher({ store: new WebhookStore(db), events, logger });
  await webhooks.start();
  const stopSuppressionSweep = startSuppressionSweep(suppressions, logger);
  // Stores written before the MX, reason, campaign and source indexes existed get them in the background.
  void events.backfill(logger).catch((error: unknown) => logger.error({ err: error }, 'backfilling event indexes failed'));
  const admin = createAdminServer({
    events,
    suppressions,
    queue,
    token,
    logger,
    queueControl,
    webhooks,
    metrics,
    bounces: { ingest, maxSize: config.bounce.maxSize },
    classification: {
      current: classifier,
      reload: () => classifier.reload(logger),
      candidate: (rulesText: string) => classifier.candidate(rulesText),
    },
    alerts: () => guard.alerts(),
  });

  const bounceListener = config.bounce.listen
    ? createBounceListener({
        logger,
        hostname: config.hostname,
        ...parseHostPort(config.bounce.listen),
        domain: config.bounce.domain,
        maxSize: config.bounce.maxSize,
        ingest,
      })
    : null;

  // A relay that accepts mail must also deliver it: if any listener cannot bind, close the ones
  // already open and fail the start instead of running half-way.
  let smtpAddress: { host: string; port: number };
  let bounceAddress: { host: string; port: number } | null;
  let adminAddress: { host: string; port: number };
  try {
    smtpAddress = await ingress.listen();
    bounceAddress = bounceListener ? await bounceListener.listen() : null;
    adminAddress = await admin.listen(config.admin.host, config.admin.port);
  } catch (error) {
    logger.error({ err: error }, 'a listener could not start; stopping');
    await Promise.allSettled([ingress.close(), bounceListener?.close(), admin.close(), webhooks.stop?.(), threads?.close()]);
    await filterBuilt;
    await db.close();
    throw error;
  }
  runner.start();
  if (created) {
    process.stderr.write(`bouncegate: generated admin token (stored in ${join(config.dataDir, 'admin-token')}): ${token}\n`);
  }
  logger.info(
    {
      smtp: smtpAddress,
      admin: adminAddress,
      bounce: bounceAddress,
      dataDir: config.dataDir,
      hostname: config.hostname,
      smarthost: config.relay.smarthost,
      routes: Object.keys(config.relay.routes).length,
    },
    'bouncegate started',
  );
  const missingFlags = missingNodeFlags();
  if (missingFlags.length > 0) {
    logger.warn(
      { missing: missingFlags },
      'Node.js was started without the flags of npm start; under load the relay may spend more CPU on garbage collection (see Deploying in the README)',
    );
  }
  if (!config.relay.smarthost && (!config.hostname.includes('.') || config.hostname === 'localhost')) {
    logger.warn(
      { hostname: config.hostname },
      'hostname is not a fully qualified domain name; many MX hosts reject or distrust such an EHLO name. Set hostname in the config',
    );
  }

  let closing: Promise<void> | null = null;
  return {
    config,
    smtp: smtpAddress,
    admin: adminAddress,
    bounce: bounceAddress,
    token,
    ingestDsn: ingest,
    classifier,
    events,
    suppressions,
    queue,
    runner,
    close() {
      closing ??= (async () => {
        process.off('SIGHUP', reloadRules);
        await ingress.close();
        await bounceListener?.close();
        await filterBuilt;
        await runner.stop();
        await pool.close();
        await threads?.close();
        await admin.close();
        await webhooks.stop();
        metrics.close();
        stopSuppressionSweep();
        await db.close();
        logger.info('bouncegate stopped');
      })();
      return closing;
    },
  };
}

function parseHostPort(value: string): { host: string; port: number } {
  const colon = value.lastIndexOf(':');
  return { host: value.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(value.slice(colon + 1)) };
}
