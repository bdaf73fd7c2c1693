import type { Machine } from './support/machine.js';
import type { Profile } from './profiles.js';
import type {
  CaseResult,
  Measurement,
  MetricSpec,
} from './scenarios/common.js';

/** Above this fraction of its core, the load side may be what limits a number. */
export const LOAD_CPU_WARNING = 0.9;

export interface Report {
  machine: Machine;
  profile: Profile['name'];
  gatewayEnv: Record<string, string>;
  durationMs: number;
  cases: CaseResult[];
  /** Scenarios that failed to produce their numbers, with why. */
  failures: Array<{ scenario: string; error: string }>;
}

export interface Row {
  scenario: string;
  case: string;
  metric: string;
  gateway: string;
  plain: string;
  ratio: string;
  target: string;
  met: string;
}

function format(value: number | undefined, spec: MetricSpec): string {
  if (value === undefined || Number.isNaN(value)) return '–';
  const decimals = spec.decimals ?? 0;
  const text = value.toLocaleString('en-US', {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
  return withUnit(text, spec);
}

/** Rates and plain numbers (ratios) bare, anything else with its unit. */
const withUnit = (text: string, spec: MetricSpec) =>
  spec.unit === '/s' || spec.unit === '' ? text : `${text} ${spec.unit}`;

/** gateway / plain, whatever the metric; the target column says which way is good. */
export function ratioOf(c: CaseResult, spec: MetricSpec): number | undefined {
  const g = c.gateway?.values[spec.key];
  const p = c.plain?.values[spec.key];
  if (spec.noRatio || g === undefined || p === undefined || !(p > 0))
    return undefined;
  return g / p;
}

/** A target on the gateway's own value (`limit`): met or not. */
function limitMet(value: number | undefined, spec: MetricSpec): string {
  if (!spec.limit || value === undefined || Number.isNaN(value)) return '';
  const ok =
    spec.limit.op === '<' ? value < spec.limit.value : value > spec.limit.value;
  return ok ? 'yes' : 'NO';
}

function targetOf(spec: MetricSpec): string {
  if (spec.target) return `${spec.target.op} ${spec.target.ratio}`;
  if (spec.limit)
    return `${spec.limit.op} ${withUnit(String(spec.limit.value), spec)}`;
  return '';
}

function metOf(ratio: number | undefined, spec: MetricSpec): string {
  if (!spec.target || ratio === undefined) return '';
  const ok =
    spec.target.op === '>='
      ? ratio >= spec.target.ratio
      : ratio <= spec.target.ratio;
  return ok ? 'yes' : 'NO';
}

const pct = (v: number | undefined) =>
  v === undefined ? '–' : `${Math.round(v * 100)} %`;

/**
 * Above these, a core was busy with more than the processes it was given to: other processes,
 * or kernel work (loopback TCP) not charged to any of them.
 */
const OTHERS_ON_SERVER_CORE = 0.15;
const OTHERS_ON_LOAD_CORE = 0.25; // the orchestrator and loopback softirqs run there too

const saturated = (m: Measurement) => (m.loadCpu ?? 0) > LOAD_CPU_WARNING;

/**
 * Warning lines for one case: the load generator near its core's limit (its numbers are then
 * those of the load side, not the server), and cores busier than what runs on them accounts for
 * (the machine was not quiet: numbers are noisier).
 */
export function warningsOf(c: CaseResult): string[] {
  const out: string[] = [];
  for (const [kind, m] of [
    ['gateway', c.gateway],
    ['plain ws', c.plain],
  ] as const) {
    if (!m) continue;
    if (saturated(m)) {
      out.push(
        `WARNING load generator at ${pct(m.loadCpu)} of its core during ${kind} (server at ${pct(m.serverCpu)}): ` +
          `the ${kind} numbers may be limited by the load side, not the server`,
      );
    }
    const others = [
      m.serverCoreBusy !== undefined &&
      m.serverCpu !== undefined &&
      m.serverCoreBusy - m.serverCpu > OTHERS_ON_SERVER_CORE
        ? `the server core ${pct(m.serverCoreBusy - m.serverCpu)}`
        : undefined,
      m.loadCoreBusy !== undefined &&
      m.loadCpu !== undefined &&
      m.loadCoreBusy - m.loadCpu > OTHERS_ON_LOAD_CORE
        ? `the load core ${pct(m.loadCoreBusy - m.loadCpu)}`
        : undefined,
    ].filter(Boolean);
    if (others.length)
      out.push(
        `WARNING ${others.join(' and ')} busier than its own processes during ${kind}: other processes (or kernel network work) ran there; numbers are noisier`,
      );
  }
  return out;
}

export function rowsOf(c: CaseResult): Row[] {
  return c.metrics.map((spec, i) => {
    const ratio = ratioOf(c, spec);
    return {
      scenario: i === 0 ? c.scenario : '',
      case: i === 0 ? c.name : '',
      metric: spec.label,
      gateway: format(c.gateway?.values[spec.key], spec),
      plain: c.plain ? format(c.plain.values[spec.key], spec) : 'n/a',
      ratio: ratio === undefined ? '' : ratio.toFixed(2),
      target: targetOf(spec),
      met: spec.limit
        ? limitMet(c.gateway?.values[spec.key], spec)
        : metOf(ratio, spec),
    };
  });
}

function cpuLine(c: CaseResult): string | undefined {
  const parts: string[] = [];
  for (const [kind, m] of [
    ['gateway', c.gateway],
    ['plain', c.plain],
  ] as const) {
    if (m?.serverCpu === undefined) continue;
    parts.push(
      `${kind}: server ${pct(m.serverCpu)} (core ${pct(m.serverCoreBusy)}), load ${pct(m.loadCpu)} (core ${pct(m.loadCoreBusy)})`,
    );
  }
  return parts.length ? `cpu ${parts.join('; ')}` : undefined;
}

function notesOf(c: CaseResult): string[] {
  const out = [...c.notes];
  if (c.gateway) out.push(...c.gateway.notes.map((n) => `gateway: ${n}`));
  if (c.plain) out.push(...c.plain.notes.map((n) => `plain: ${n}`));
  return out;
}

const HEADERS: Row = {
  scenario: 'scenario',
  case: 'case',
  metric: 'metric',
  gateway: 'gateway',
  plain: 'plain ws',
  ratio: 'gw/plain',
  target: 'target',
  met: 'met',
};
const COLUMNS = Object.keys(HEADERS) as Array<keyof Row>;
const RIGHT = new Set<keyof Row>(['gateway', 'plain', 'ratio']);

/** The table for the terminal: one block per case, its CPU line and warnings under it. */
export function textTable(report: Report): string {
  const rows = report.cases.flatMap(rowsOf);
  const width = Object.fromEntries(
    COLUMNS.map((k) => [
      k,
      Math.max(HEADERS[k].length, ...rows.map((r) => r[k].length)),
    ]),
  ) as Record<keyof Row, number>;
  const line = (r: Row) =>
    COLUMNS.map((k) =>
      RIGHT.has(k) ? r[k].padStart(width[k]) : r[k].padEnd(width[k]),
    )
      .join('  ')
      .trimEnd();
  const rule = COLUMNS.map((k) => '-'.repeat(width[k])).join('  ');
  const out = [line(HEADERS), rule];
  for (const c of report.cases) {
    out.push(...rowsOf(c).map(line));
    const cpu = cpuLine(c);
    if (cpu) out.push(`    ${cpu}`);
    for (const w of warningsOf(c)) out.push(`    ${w}`);
    for (const n of notesOf(c)) out.push(`    note: ${n}`);
    out.push('');
  }
  for (const f of report.failures) out.push(`FAILED ${f.scenario}: ${f.error}`);
  return out.join('\n');
}

const escape = (s: string) => s.replaceAll('|', '\\|');

/** The markdown page docs/performance.md quotes: machine, settings, the table, CPU and notes. */
export function markdown(report: Report): string {
  const m = report.machine;
  const out = [
    `# Benchmark: the gateway against plain \`ws\``,
    '',
    `${m.date.slice(0, 10)} · \`npm run bench\` (${report.profile}) · ${Math.round(report.durationMs / 1000)} s`,
    '',
    `| machine | |`,
    `| --- | --- |`,
    `| CPU | ${escape(m.cpuModel)} |`,
    `| nproc | ${m.nproc} |`,
    `| Node | ${m.node} |`,
    `| pinning | ${escape(m.pinning.note)} |`,
    `| load average at start | ${m.loadavgAtStart.join(', ')} |`,
    `| open files (hard limit) | ${m.openFilesHardLimit} |`,
    ...(m.pageCache
      ? [
          `| page cache not yet on disk at start | ${Math.round(m.pageCache.unwrittenKiB / 1024)} MB, written out (\`sync\`, ${(m.pageCache.ms / 1000).toFixed(1)} s) before the servers started |`,
        ]
      : []),
    '',
    `Gateway settings: ${Object.entries(report.gatewayEnv)
      .filter(([k]) => k !== 'AUTH_TOKENS')
      .map(([k, v]) => `\`${k}=${v}\``)
      .join(', ')} (rate limiter on the hot path, set far above the load). ` +
      `Ratios are gateway / plain \`ws\`: the target column says which way is good.`,
    '',
    `| ${COLUMNS.map((k) => HEADERS[k]).join(' | ')} |`,
    `| ${COLUMNS.map((k) => (RIGHT.has(k) ? '---:' : '---')).join(' | ')} |`,
  ];
  for (const c of report.cases)
    for (const r of rowsOf(c))
      out.push(`| ${COLUMNS.map((k) => escape(r[k])).join(' | ')} |`);
  out.push(
    '',
    '## CPU during each window (fraction of one core; the whole core in parentheses)',
    '',
  );
  out.push(
    '| scenario | case | server gw | load gw | server plain | load plain |',
  );
  out.push('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const c of report.cases) {
    if (c.gateway?.serverCpu === undefined) continue;
    const server = (x?: Measurement) =>
      x ? `${pct(x.serverCpu)} (${pct(x.serverCoreBusy)})` : 'n/a';
    const load = (x?: Measurement) =>
      x
        ? `${pct(x.loadCpu)} (${pct(x.loadCoreBusy)})${saturated(x) ? ' ⚠' : ''}`
        : 'n/a';
    out.push(
      `| ${c.scenario} | ${escape(c.name)} | ${server(c.gateway)} | ${load(c.gateway)} | ${server(c.plain)} | ${load(c.plain)} |`,
    );
  }
  const warnings = report.cases.flatMap(warningsOf);
  const notes = report.cases.flatMap((c) =>
    notesOf(c).map((n) => `${c.scenario}, ${c.name}: ${n}`),
  );
  if (warnings.length || notes.length || report.failures.length) {
    out.push('', '## Notes', '');
    for (const w of warnings) out.push(`- ⚠ ${escape(w)}`);
    for (const n of notes) out.push(`- ${escape(n)}`);
    for (const f of report.failures)
      out.push(`- FAILED ${f.scenario}: ${escape(f.error)}`);
  }
  return `${out.join('\n')}\n`;
}
