/**
 * Node.js flags that every shipped way of starting the relay passes (`npm start`, the systemd unit,
 * the Docker image). They are V8 heap settings, which Node accepts only on its command line, not in
 * NODE_OPTIONS and not once the process runs.
 *
 * `--initial-old-space-size=64`: V8 starts a full collection whenever the room left below its
 * old-generation limit is smaller than the young generation, and sets that limit from the live
 * heap. A relay's live heap is small (about 20 MB), so under load V8 ran a full collection every
 * 80 ms or so, and its marking threads took more CPU than the main thread. A 64 MB start limit
 * leaves room: with 100 KB messages over one session, relay CPU per message fell by a quarter and
 * throughput rose by a fifth on the benchmark machine, for about 25 MB more resident memory.
 */
export const RELAY_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

/** Returns the flags of RELAY_NODE_FLAGS that this process was started without. */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return RELAY_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
