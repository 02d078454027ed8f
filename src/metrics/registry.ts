/** Something that renders metrics in the Prometheus text exposition format (version 0.0.4). */
export interface MetricsSource {
  render(): Promise<string>;
}

/** Label names and values of one series. */
export type Labels = Record<string, string>;

/** Content-Type of the Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Metric {
  readonly name: string;
  render(): string;
}

/** A counter: a value that only goes up, per label set. */
export class Counter implements Metric {
  readonly name: string;
  private readonly help: string;
  private readonly labelNames: readonly string[];
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** Adds `amount` (default 1) to the series of `labels`. */
  inc(labels: Labels = {}, amount = 1): void {
    this.series(labels).value += amount;
  }

  /**
   * Returns the series of `labels`, created at 0 when missing. Adding to its `value` counts, so a
   * caller that counts many times under the same labels looks the series up once.
   */
  series(labels: Labels): { value: number } {
    const key = seriesKey(this.labelNames, labels);
    let series = this.values.get(key);
    if (!series) {
      series = { labels: pick(this.labelNames, labels), value: 0 };
      this.values.set(key, series);
    }
    return series;
  }

  /** Returns the value of one series, 0 when it was never incremented. */
  get(labels: Labels = {}): number {
    return this.values.get(seriesKey(this.labelNames, labels))?.value ?? 0;
  }

  render(): string {
    const lines = header(this.name, this.help, 'counter');
    for (const { labels, value } of this.values.values()) {
      lines.push(`${this.name}${formatLabels(labels)} ${formatNumber(value)}`);
    }
    return lines.join('\n');
  }
}

/** A gauge: a value set at collection time, per label set. */
export class Gauge implements Metric {
  readonly name: string;
  private readonly help: string;
  private readonly labelNames: readonly string[];
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  set(labels: Labels, value: number): void {
    this.values.set(seriesKey(this.labelNames, labels), { labels: pick(this.labelNames, labels), value });
  }

  render(): string {
    const lines = header(this.name, this.help, 'gauge');
    for (const { labels, value } of this.values.values()) {
      lines.push(`${this.name}${formatLabels(labels)} ${formatNumber(value)}`);
    }
    return lines.join('\n');
  }
}

/** A histogram with fixed upper bounds, per label set. */
export class Histogram implements Metric {
  readonly name: string;
  private readonly help: string;
  private readonly labelNames: readonly string[];
  private readonly bounds: readonly number[];
  /** Per series: the count of each bucket without the buckets below it, the sum and the count. */
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, bounds: readonly number[], labelNames: readonly string[] = []) {
    this.name = name;
    this.help = help;
    this.bounds = [...bounds].sort((a, b) => a - b);
    this.labelNames = labelNames;
  }

  /** Adds `value` to the histogram `times` times (once by default). */
  observe(value: number, labels: Labels = {}, times = 1): void {
    const key = seriesKey(this.labelNames, labels);
    const entry = this.series.get(key) ?? { labels: pick(this.labelNames, labels), counts: this.bounds.map(() => 0), sum: 0, count: 0 };
    // The value counts in its smallest bucket only, and render adds up the buckets below each bound.
    let index = 0;
    while (index < this.bounds.length && value > (this.bounds[index] ?? Number.POSITIVE_INFINITY)) {
      index += 1;
    }
    if (index < this.bounds.length) {
      entry.counts[index] = (entry.counts[index] ?? 0) + times;
    }
    entry.sum += value * times;
    entry.count += times;
    this.series.set(key, entry);
  }

  render(): string {
    const lines = header(this.name, this.help, 'histogram');
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      for (const [index, bound] of this.bounds.entries()) {
        cumulative += counts[index] ?? 0;
        lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: formatNumber(bound) })} ${cumulative}`);
      }
      lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: '+Inf' })} ${count}`);
      lines.push(`${this.name}_sum${formatLabels(labels)} ${formatNumber(sum)}`);
      lines.push(`${this.name}_count${formatLabels(labels)} ${count}`);
    }
    return lines.join('\n');
  }
}

/** A set of metrics rendered together, with collectors that refresh gauges before each render. */
export class Registry implements MetricsSource {
  private readonly metrics: Metric[] = [];
  private readonly collectors: Array<() => Promise<void>> = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, bounds: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.add(new Histogram(name, help, bounds, labelNames));
  }

  /** Registers a function that sets gauges; it runs before every render. */
  collect(collector: () => Promise<void>): void {
    this.collectors.push(collector);
  }

  async render(): Promise<string> {
    for (const collector of this.collectors) {
      await collector();
    }
    return `${this.metrics.map((metric) => metric.render()).join('\n')}\n`;
  }

  private add<M extends Metric>(metric: M): M {
    if (this.metrics.some((existing) => existing.name === metric.name)) {
      throw new Error(`metric ${metric.name} is registered twice`);
    }
    this.metrics.push(metric);
    return metric;
  }
}

function header(name: string, help: string, type: string): string[] {
  return [`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`];
}

function pick(names: readonly string[], labels: Labels): Labels {
  const picked: Labels = {};
  for (const name of names) {
    picked[name] = labels[name] ?? '';
  }
  return picked;
}

function seriesKey(names: readonly string[], labels: Labels): string {
  let key = '';
  let separator = '';
  for (const name of names) {
    key += separator + (labels[name] ?? '');
    separator = '\u0000';
  }
  return key;
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) {
    return '';
  }
  // Label values escape backslash, double quote and line feed (text exposition format 0.0.4).
  const parts = entries.map(([name, value]) => `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return `{${parts.join(',')}}`;
}

function formatNumber(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return Number.isNaN(value) ? 'NaN' : String(value);
}
