import { performance } from 'node:perf_hooks';
import type { Cleanup } from '../lib/cleanup.js';
import { BENCH_ID_HEADER, startLatencySink } from '../lib/latency-sink.js';
import { sleep } from '../lib/net.js';
import type { PostfixRelay } from '../lib/postfix.js';
import { startRelayProcess, type RelayEntry } from '../lib/relay.js';
import { SmtpClient } from '../lib/smtp-client.js';
import { percentile } from '../lib/stats.js';

/** Pause between the 250 reply to one message and the start of the next: a low, steady load. */
const GAP_MS = 10;
/** Payload of each latency message, in bytes (before the headers). */
const BODY_BYTES = 4 * 1024;
/** Time allowed for the last messages to reach the sink after the client finished. */
const DRAIN_TIMEOUT_MS = 30_000;

/** Latency of one path, in milliseconds from MAIL FROM at the client to the final "." at the sink. */
export interface LatencyFigures {
  messages: number;
  arrived: number;
  p50Ms: number;
  p99Ms: number;
}

/** Latency of the three paths measured in the same run. */
export interface LatencyResult {
  direct: LatencyFigures;
  postfix: LatencyFigures;
  relay: LatencyFigures;
}

/** Shared state of the latency scenario. */
export interface LatencyContext {
  cleanup: Cleanup;
  sinkPort: number;
  postfix: PostfixRelay;
  entry: RelayEntry;
  messages: number;
}

/**
 * Sends `messages` 4 KB messages one at a time over one connection, so smtp-server's greeting delay
 * is paid once. They go to the sink directly, through Postfix and through the relay. Measures the
 * time from MAIL FROM to the message's arrival at the sink, which records it.
 */
export async function runLatency(context: LatencyContext): Promise<LatencyResult> {
  const sink = await startLatencySink(context.sinkPort);
  try {
    const direct = await measurePath(context.sinkPort, sink.arrivals, context.messages, 'direct');
    const postfix = await measurePath(context.postfix.port, sink.arrivals, context.messages, 'postfix');
    const relayProcess = await startRelayProcess(context.cleanup, { entry: context.entry, smarthostPort: context.sinkPort });
    try {
      const relay = await measurePath(relayProcess.port, sink.arrivals, context.messages, 'relay');
      return { direct, postfix, relay };
    } finally {
      await relayProcess.destroy();
    }
  } finally {
    await sink.close();
  }
}

async function measurePath(port: number, arrivals: Map<string, number>, messages: number, path: string): Promise<LatencyFigures> {
  const sent = new Map<string, number>();
  const payload = `${'x'.repeat(76)}\r\n`.repeat(Math.ceil(BODY_BYTES / 78));
  const client = await SmtpClient.open(port, 'latency.client');
  try {
    for (let index = 0; index < messages; index++) {
      const id = `${path}-${index}`;
      const body = `${BENCH_ID_HEADER}: ${id}\r\nFrom: <bench@source.example>\r\nTo: <latency@sink.example>\r\nSubject: latency ${index}\r\n\r\n${payload}`;
      sent.set(id, performance.now());
      await client.send('bench@source.example', ['latency@sink.example'], body);
      await sleep(GAP_MS);
    }
  } finally {
    await client.close();
  }

  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while ([...sent.keys()].some((id) => !arrivals.has(id)) && Date.now() < deadline) {
    await sleep(50);
  }
  const latencies = [...sent].flatMap(([id, start]) => {
    const arrived = arrivals.get(id);
    return arrived === undefined ? [] : [arrived - start];
  });
  return { messages, arrived: latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}
