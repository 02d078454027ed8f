import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The parts of a V8 .cpuprofile (the format `node --cpu-prof` writes) that the summary reads. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one function. */
export interface FunctionTime {
  name: string;
  /** Definition site: "src/ingress/server.ts:120", "node_modules/smtp-server/…" or "node:internal/…". */
  location: string;
  selfMs: number;
  /** Share of the busy time (all samples but "(idle)"). */
  share: number;
}

/** Self time summed per file or area. */
export interface FileTime {
  file: string;
  selfMs: number;
  share: number;
}

/** Time of the samples whose stack contains a given function. */
export interface InclusiveTime {
  label: string;
  ms: number;
  share: number;
}

/** Summary of where a profile's main thread spent its time. */
export interface ProfileSummary {
  /** Sampled wall time of the profile, in ms. */
  totalMs: number;
  /** Sampled time outside "(idle)", in ms: the main thread's CPU time, roughly. */
  busyMs: number;
  topFunctions: FunctionTime[];
  topFiles: FileTime[];
  inclusive: InclusiveTime[];
}

/**
 * Functions to report inclusive time for: a sample counts once when any of them is on its stack. The
 * file is matched by the end of its path without the extension.
 */
export interface InclusiveProbe {
  label: string;
  functionName: string | string[];
  fileSuffix: string;
}

/** Maps a file URL of the profile to a short location, for example a compiled path back to its source. */
export type LocationRewrite = (path: string) => string;

/**
 * Summarises a .cpuprofile: the top functions by self time, self time per file, and the inclusive
 * time of the probed functions (every sample with the function anywhere on its stack counts once).
 */
export function summarizeProfile(
  path: string,
  options: { top?: number; probes?: InclusiveProbe[]; rewrite?: LocationRewrite } = {},
): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const top = options.top ?? 20;
  const rewrite = options.rewrite ?? shortenPath;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) {
      parentOf.set(child, node.id);
    }
  }

  // V8 records in timeDeltas the time since the previous sample. Each sample is charged with the
  // delta that follows it, which is the time until the next sample.
  const selfUs = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index++) {
    const id = profile.samples[index];
    const delta = profile.timeDeltas[index + 1] ?? 0;
    if (id !== undefined) {
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, delta));
    }
  }

  let totalUs = 0;
  let idleUs = 0;
  const functions = new Map<string, { name: string; location: string; us: number }>();
  const files = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) {
      continue;
    }
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const file = frame.url ? rewrite(frame.url) : categoryOf(frame.functionName);
    const location = frame.url ? `${file}:${frame.lineNumber + 1}` : file;
    const name = frame.functionName || '(anonymous)';
    const key = `${name}\u0000${location}`;
    const entry = functions.get(key) ?? { name, location, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    files.set(file, (files.get(file) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const share = (us: number): number => (busyUs > 0 ? us / busyUs : Number.NaN);

  const inclusive = (options.probes ?? []).map((probe) => {
    let us = 0;
    for (const [id, sampleUs] of selfUs) {
      if (stackContains(id, byId, parentOf, probe)) {
        us += sampleUs;
      }
    }
    return { label: probe.label, ms: us / 1000, share: share(us) };
  });

  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    topFunctions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((entry) => ({ name: entry.name, location: entry.location, selfMs: entry.us / 1000, share: share(entry.us) })),
    topFiles: [...files.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([file, us]) => ({ file, selfMs: us / 1000, share: share(us) })),
    inclusive,
  };
}

/**
 * Shortens a profile URL: node_modules/<package>/…, src/… for the relay's own files, or node:….
 * A compiled file dist/X.js is named after its source src/X.ts (tsconfig.build.json maps src/ to
 * dist/ one to one), but its line numbers stay those of the JavaScript.
 */
export function shortenPath(url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    return path.slice(modules + 1);
  }
  const source = path.lastIndexOf('/src/');
  if (source >= 0) {
    return path.slice(source + 1);
  }
  const compiled = path.lastIndexOf('/dist/');
  if (compiled >= 0 && path.endsWith('.js')) {
    return `src/${path.slice(compiled + '/dist/'.length, -'.js'.length)}.ts`;
  }
  return path;
}

/** Renders a summary as plain text: the table the `bench/cpuprofile-top.ts` script prints. */
export function formatProfileSummary(summary: ProfileSummary): string {
  const percent = (value: number): string => `${(value * 100).toFixed(1)} %`;
  const lines = [
    `sampled ${summary.totalMs.toFixed(0)} ms, busy ${summary.busyMs.toFixed(0)} ms`,
    '',
    'top functions by self time:',
    ...summary.topFunctions.map((entry) => `  ${percent(entry.share).padStart(7)}  ${entry.selfMs.toFixed(0).padStart(7)} ms  ${entry.name}  ${entry.location}`),
    '',
    'self time by file:',
    ...summary.topFiles.map((entry) => `  ${percent(entry.share).padStart(7)}  ${entry.selfMs.toFixed(0).padStart(7)} ms  ${entry.file}`),
  ];
  if (summary.inclusive.length > 0) {
    lines.push('', 'inclusive time (function anywhere on the stack):');
    lines.push(...summary.inclusive.map((entry) => `  ${percent(entry.share).padStart(7)}  ${entry.ms.toFixed(0).padStart(7)} ms  ${entry.label}`));
  }
  return lines.join('\n');
}

function stackContains(
  id: number,
  byId: Map<number, CpuProfile['nodes'][number]>,
  parentOf: Map<number, number>,
  probe: InclusiveProbe,
): boolean {
  const names = typeof probe.functionName === 'string' ? [probe.functionName] : probe.functionName;
  let current: number | undefined = id;
  while (current !== undefined) {
    const frame = byId.get(current)?.callFrame;
    if (frame && names.includes(frame.functionName) && frame.url.replace(/\.[cm]?[jt]s$/, '').endsWith(probe.fileSuffix)) {
      return true;
    }
    current = parentOf.get(current);
  }
  return false;
}

// Frames without a URL are V8's own: "(garbage collector)", "(program)" (native code outside
// JavaScript, such as libuv and the parser), and builtins without a script.
function categoryOf(functionName: string): string {
  if (functionName.startsWith('(')) {
    return functionName;
  }
  return '(native)';
}
