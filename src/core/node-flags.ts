/**
 * Node.js flags that every shipped way of starting the relay passes (`npm start`, the systemd unit,
 * the Docker image).
 *
 * `--initial-old-space-size=64`: V8 starts a full collection whenever the room left below its
 * old-generation limit is smaller than the young generation, and sets that limit from the live
 * heap. A relay's live heap is small (about 20 MB), so under load V8 ran a full collection every
 * 80 ms or so, and its marking threads took more CPU than the main thread. A 64 MB start limit
 * leaves room: with 100 KB messages over one session, relay CPU per message fell by a quarter and
 * throughput rose by a fifth on the benchmark machine, for about 25 MB more resident memory. Node
 * accepts this flag only on its command line, not in NODE_OPTIONS and not once the process runs.
 *
 * `--v8-pool-size=2`: V8's helper threads for garbage collection and compilation (4 by default).
 * The relay's own work runs on two threads, the listener and the delivery thread, and on a
 * two-core machine four helpers woke up to preempt them. With two, throughput with 4 KB messages
 * rose by 2 to 7 % in runs on the benchmark machine, and the 100 KB one-session load by 3 %.
 */
export const RELAY_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64', '--v8-pool-size=2'];

/** Returns the flags of RELAY_NODE_FLAGS that this process was started without, on its command line or in NODE_OPTIONS. */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ''): string[] {
  const passed = new Set([...execArgv, ...nodeOptions.split(/\s+/)]);
  return RELAY_NODE_FLAGS.filter((flag) => !passed.has(flag));
}
