import { hostname as osHostname } from 'node:os';
import { z } from 'zod';

const hostPort = z
  .string()
  .regex(/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/, 'expected "host:port", e.g. "mail.example.net:25" or "[::1]:2525"');

const port = z.number().int().min(0).max(65535);

/** A rule that decides whether a permanent failure suppresses the recipient. */
export const suppressionRuleSchema = z
  .object({
    /** Enhanced status code prefix to match, e.g. "5.1.1" or "5.1". */
    enhancedCode: z.string().regex(/^[245](\.\d{1,3}){0,2}$/).optional(),
    /** Case-insensitive regular expression tested against the reply text. */
    text: z.string().optional(),
    suppress: z.boolean(),
    reason: z.string().min(1),
  })
  .strict();

const userSchema = z
  .object({
    username: z.string().min(1),
    /** Password in plain text, or "scrypt$<salt-hex>$<hash-hex>". */
    password: z.string().min(1),
  })
  .strict();

/** Schema of config/bouncegate.yaml. Every key has a default, so an empty file is a valid config. */
export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('data'),
    /** EHLO name and Received/Reporting-MTA host; defaults to the machine's host name. */
    hostname: z.string().min(1).default(() => osHostname()),
    spool: z
      .object({
        /**
         * Bodies of at most this many bytes (trace headers included) are stored in LevelDB in the same
         * synced write as their queue record, so they cost no file, file fsync or folder fsync.
         * Larger bodies stream to a spool file. 0 puts every body in a file.
         */
        inlineMaxSize: z.number().int().min(0).max(1024 * 1024).default(128 * 1024),
      })
      .strict()
      .prefault({}),
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(2525),
        /** Maximum message size in bytes, announced with SIZE and enforced while the message streams. */
        maxSize: z.number().int().positive().default(50 * 1024 * 1024),
        maxClients: z.number().int().positive().default(500),
        /** Seconds of client inactivity before the server closes the session. */
        socketTimeout: z.number().int().positive().default(300),
        /**
         * Milliseconds to wait before the greeting; a client that talks earlier gets 421. 0 greets at
         * once, as Postfix's smtpd does: the early-talker check is for listeners open to unknown clients.
         */
        greetingDelay: z.number().int().min(0).max(10_000).default(0),
        tls: z
          .object({ key: z.string().min(1), cert: z.string().min(1) })
          .strict()
          .nullable()
          .default(null),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({ users: z.array(userSchema).default([]) })
      .strict()
      .prefault({}),
    clients: z
      .object({ allow: z.array(z.string().min(1)).default(['127.0.0.0/8', '::1/128']) })
      .strict()
      .prefault({}),
    relay: z
      .object({
        smarthost: hostPort.nullable().default(null),
        routes: z.record(z.string().min(1), hostPort).default({}),
        /** Port used for MX hosts; 25 in production, a loopback port in tests. */
        mxPort: port.default(25),
        /** Total concurrent delivery transactions. */
        maxConnections: z.number().int().positive().default(100),
        /**
         * Worker threads that run the SMTP client side of delivering inline bodies, so it uses another
         * core than the listener and the store. Spool-file bodies go from the main thread. 0 delivers
         * everything from the main thread.
         */
        deliveryThreads: z.number().int().min(0).max(16).default(1),
        /**
         * Increment to the nice value of each delivery thread on Linux, where a nice value is per
         * thread (the result is at most 19). Above 0, the listener and the store get a busy CPU
         * first. 0 keeps the priority of the process.
         */
        deliveryThreadNice: z.number().int().min(0).max(19).default(10),
        /** Concurrent delivery transactions per destination domain. */
        maxConnectionsPerDomain: z.number().int().positive().default(10),
        /** Seconds allowed for connect, greeting and each command. */
        timeout: z.number().int().positive().default(60),
        /** Use STARTTLS when the peer offers it, and record the result. */
        opportunisticTls: z.boolean().default(true),
        /** Source address for outgoing connections, or null for the system's choice. */
        localAddress: z.string().nullable().default(null),
      })
      .strict()
      .prefault({}),
    dns: z
      .object({ servers: z.array(z.string().min(1)).default([]) })
      .strict()
      .prefault({}),
    retry: z
      .object({
        /** Delays in seconds between attempts; the last one repeats until maxAge. */
        schedule: z.array(z.number().int().positive()).min(1).default([300, 600, 1200, 2400, 3600]),
        /** Seconds after acceptance when a transiently failing recipient expires. */
        maxAge: z.number().int().positive().default(5 * 24 * 3600),
      })
      .strict()
      .prefault({}),
    suppression: z
      .object({
        onSubmit: z.enum(['reject', 'drop']).default('reject'),
        caseSensitiveLocalPart: z.boolean().default(false),
        /** Ordered rules: the first match decides whether a permanent failure suppresses. */
        rules: z.array(suppressionRuleSchema).nullable().default(null),
        guard: z
          .object({
            /** Hold new suppressions for review when one MX host rejects many recipients the same way. */
            enabled: z.boolean().default(true),
            /** Seconds of history the guard looks at. */
            windowSeconds: z.number().int().positive().default(900),
            /** Distinct recipients with the same normalised rejection at one MX host that trip the guard. */
            minRecipients: z.number().int().min(2).default(10),
            /** Seconds delivery to the affected domain pauses after the guard trips. */
            pauseSeconds: z.number().int().positive().default(1800),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    classification: z
      .object({
        /** Operator rule files, checked in order before the shipped config/bounce-rules.yaml. */
        ruleFiles: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    bounce: z
      .object({
        /** "host:port" of the listener for asynchronous bounces (DSNs), or null to turn it off. */
        listen: hostPort.nullable().default('127.0.0.1:2526'),
        /** Domain the bounce listener accepts recipients for; null accepts any recipient. */
        domain: z.string().min(1).nullable().default(null),
        /** Send each recipient with its own VERP return path in bounce.domain (needs bounce.domain). */
        verp: z.boolean().default(false),
        /** HMAC key for VERP addresses; null generates one into the data folder on first start. */
        secret: z.string().min(16).nullable().default(null),
        /** Maximum size in bytes of a bounce message read by the listener or the admin API. */
        maxSize: z.number().int().positive().default(2 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    events: z
      .object({
        campaignHeader: z.string().min(1).default('X-Campaign'),
        /**
         * For benchmarks only: false stops writing delivery events, so the cost of recording can be
         * measured against a run without it. Suppression, retries, bounces and the metrics work
         * either way.
         */
        record: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    admin: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(8025),
        /** Bearer token; null generates one into the data folder on first start. */
        token: z.string().min(16).nullable().default(null),
      })
      .strict()
      .prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict();

/** The validated configuration, frozen after loading. */
export type Config = z.infer<typeof configSchema>;
/** One entry of suppression.rules. */
export type SuppressionRule = z.infer<typeof suppressionRuleSchema>;
