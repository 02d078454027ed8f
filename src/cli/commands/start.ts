import { EXIT_OK } from './io.js';
import type { CommandSpec } from './spec.js';

/** Signals that stop a relay started by `bouncegate start`. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** `bouncegate start`: runs the relay in the foreground until SIGINT or SIGTERM. */
export const startCommand: CommandSpec = {
  name: 'start',
  usage: 'start [--config PATH]',
  summary: 'run the relay: SMTP listener, delivery queue and admin API',
  positionals: [],
  options: {},

  async run(context) {
    // Imported here so that the other commands do not load the relay's modules.
    const { startRelay } = await import('../../app.js');
    const configPath = context.globals.configPath ?? nonEmpty(context.io.env.BOUNCEGATE_CONFIG);
    const relay = await startRelay(configPath === undefined ? {} : { configPath });

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      for (const name of STOP_SIGNALS) {
        process.once(name, () => resolve(name));
      }
    });
    context.io.stderr.write(`bouncegate: ${signal} received, stopping\n`);
    await relay.close();
    return EXIT_OK;
  },
};

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
