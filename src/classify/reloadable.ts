import type { Logger } from 'pino';
import type { Classification } from '../core/classification.js';
import type { Reply } from '../core/reply.js';
import type { SuppressionRule } from '../config/schema.js';
import { createClassifier, DEFAULT_RULES_PATH, type ExplainingClassifier } from './classifier.js';
import { loadRuleFiles, parseRules } from './rules.js';

/**
 * A classifier whose rules can be reloaded while the relay runs (SIGHUP or the admin API). Operator
 * files come first, then the shipped rules. A reload that fails validation keeps the rules in use.
 */
export class ReloadableClassifier implements ExplainingClassifier {
  private current: ExplainingClassifier;
  private readonly operatorFiles: readonly string[];
  private readonly overrides: SuppressionRule[] | null;

  constructor(operatorFiles: readonly string[], overrides: SuppressionRule[] | null) {
    this.operatorFiles = operatorFiles;
    this.overrides = overrides;
    this.current = this.build();
  }

  classify(reply: Reply, mx: string | null): Classification {
    return this.current.classify(reply, mx);
  }

  explain(reply: Reply, mx: string | null): ReturnType<ExplainingClassifier['explain']> {
    return this.current.explain(reply, mx);
  }

  /** Re-reads every rule file. Throws BOUNCEGATE_RULES_INVALID and keeps the old rules on an error. */
  reload(logger?: Logger): { files: string[] } {
    this.current = this.build();
    const files = [...this.operatorFiles, DEFAULT_RULES_PATH];
    logger?.info({ files }, 'classification rules reloaded');
    return { files };
  }

  /**
   * Builds a classifier from candidate rules (YAML text in the rule file format) placed before the
   * rules in use, to try them without changing what the relay does. Throws BOUNCEGATE_RULES_INVALID.
   */
  candidate(rulesText: string): ExplainingClassifier {
    const extra = parseRules(rulesText, 'candidate rules');
    const current = loadRuleFiles([...this.operatorFiles, DEFAULT_RULES_PATH]);
    return createClassifier({ rules: [...extra, ...current.rules], files: ['candidate rules', ...current.files] }, this.overrides);
  }

  private build(): ExplainingClassifier {
    return createClassifier(loadRuleFiles([...this.operatorFiles, DEFAULT_RULES_PATH]), this.overrides);
  }
}
