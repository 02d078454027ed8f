import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Step = { what: string; run: () => Promise<void> | void };

/**
 * Undo steps for everything the benchmark starts or creates (processes, Postfix instances, temp
 * folders). `runAll` runs them newest first and keeps going when one fails, so a failed scenario
 * still leaves nothing behind.
 */
export class Cleanup {
  private steps: Step[] = [];

  /** Registers an undo step and returns a function that runs it early and removes it. */
  add(what: string, run: () => Promise<void> | void): () => Promise<void> {
    const step: Step = { what, run };
    this.steps.push(step);
    return async () => {
      const index = this.steps.indexOf(step);
      if (index >= 0) {
        this.steps.splice(index, 1);
        await step.run();
      }
    };
  }

  /** Creates a temp folder that is deleted at cleanup, and returns its path and a function that deletes it early. */
  tempDir(prefix: string): { path: string; remove: () => Promise<void> } {
    const path = mkdtempSync(join(tmpdir(), prefix));
    const remove = this.add(`remove ${path}`, () => rmSync(path, { recursive: true, force: true }));
    return { path, remove };
  }

  /** Runs every registered step, newest first. A step that throws is reported on stderr and the others still run. */
  async runAll(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop();
      if (!step) {
        break;
      }
      try {
        await step.run();
      } catch (error) {
        process.stderr.write(`bench: cleanup step "${step.what}" failed: ${(error as Error).message}\n`);
      }
    }
  }
}
