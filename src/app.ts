import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createLogger } from './core/logger.js';
import type { QueueId } from './core/types.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { createAdminServer, loadOrCreateToken } from './admin/server.js';
import { createClassifier, DEFAULT_RULES_PATH } from './classify/classifier.js';
import { loadRuleFiles } from './classify/rules.js';
import { ConcurrencyLimiter } from './delivery/limiter.js';
import { createResolver } from './delivery/resolve.js';
import { createIngress } from './ingress/server.js';
import { recoverSpool } from './queue/recover.js';
import { QueueRunner } from './queue/runner.js';
import { Spool } from './spool/spool.js';
import { SuppressionGuard } from './suppression/guard.js';
import { Database } from './store/db.js';
import { EventStore } from './store/events.js';
import { GroupCommitter } from './store/group-commit.js';
import { QueueStore } from './store/queue.js';
import { SuppressionStore } from './store/suppressions.js';

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
  token: string;
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
  const events = new EventStore(db, normalize);
  const suppressions = new SuppressionStore(db, normalize);
  const queue = new QueueStore(db);
  const committer = new GroupCommitter(queue);
  const spool = new Spool(config.dataDir);
  await recoverSpool({ queue, spool, logger });

  const classifier = createClassifier(loadRuleFiles([DEFAULT_RULES_PATH]), config.suppression.rules);
  const runner = new QueueRunner({
    config,
    logger,
    queue,
    spool,
    events,
    suppressions,
    classifier,
    limiter: new ConcurrencyLimiter(config.relay.maxConnections, config.relay.maxConnectionsPerDomain),
    resolver: createResolver(config.dns.servers, config.relay.timeout * 1000),
    commit: (operations) => committer.commit(operations),
    guard: new SuppressionGuard(config.suppression.guard),
  });

  const ingress = createIngress({
    config,
    logger,
    spool,
    queue,
    committer,
    suppressions,
    events,
    onQueued: (_queueId: QueueId) => runner.wake(),
  });

  const { token, created } = loadOrCreateToken(config.dataDir, config.admin.token, logger);
  const admin = createAdminServer({
    events,
    suppressions,
    queue,
    token,
    logger,
    queueControl: { retryNow: (queueId: string) => runner.retryNow(queueId) },
  });

  const smtpAddress = await ingress.listen();
  const adminAddress = await admin.listen(config.admin.host, config.admin.port);
  runner.start();
  if (created) {
    process.stderr.write(`bouncegate: generated admin token (stored in ${join(config.dataDir, 'admin-token')}): ${token}\n`);
  }
  logger.info({ smtp: smtpAddress, admin: adminAddress, dataDir: config.dataDir }, 'bouncegate started');

  let closing: Promise<void> | null = null;
  return {
    config,
    smtp: smtpAddress,
    admin: adminAddress,
    token,
    events,
    suppressions,
    queue,
    runner,
    close() {
      closing ??= (async () => {
        await ingress.close();
        await runner.stop();
        await admin.close();
        await db.close();
        logger.info('bouncegate stopped');
      })();
      return closing;
    },
  };
}
