import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../platform/index.js';
import { metricNames } from './promql.js';

/**
 * Checks every Grafana dashboard in this folder: the shape Grafana's provisioning needs, and that every
 * metric an expression queries is one the services really export (a typo'd family fails here, not as
 * an empty panel in production).
 */

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const SERVICE_DIRS = ['ingest', 'packager', 'origin', 'edge-cache', 'control-api'];
const DS_UID = '${DS_PROMETHEUS}';

/** Our families and the prom-client defaults (process_*, nodejs_*). */
const KNOWN_PREFIX = /^(ingest|packager|origin|edge|http|process|nodejs|qos|business|billing|entitlement)_[a-z0-9_]*[a-z0-9]$/;
/** Prometheus naming: a unit or a suffix saying what the number is (prometheus.io/docs/practices/naming). */
const UNIT_SUFFIX = /_(total|seconds|bytes|ratio|per_second|held|sessions|up|accounts|subscriptions|payments)$/;
/** Series a histogram or summary exposes besides its name; the family itself must carry a unit. */
const HISTOGRAM_SERIES = /_(bucket|count|sum)$/;
interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
}
interface Dashboard {
  title?: string;
  uid?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

/** Why a metric name breaks the naming rules, or null when it follows them. */
function namingProblem(name: string): string | null {
  if (!KNOWN_PREFIX.test(name)) return `${name} has none of the known prefixes`;
  const family = name.replace(HISTOGRAM_SERIES, '');
  if (family !== name && !/_(seconds|bytes|per_second)$/.test(family)) return `${name}: a histogram family must be in seconds, bytes or a rate of a unit`;
  if (!UNIT_SUFFIX.test(family)) return `${name} does not end in a unit or conventional suffix`;
  return null;
}

/** Every series name the services export: prom-client metrics declared in their sources, plus the defaults. */
async function exportedSeries(): Promise<Set<string>> {
  const out = new Set<string>();
  const add = (name: string, type: string) => {
    out.add(name);
    if (type === 'histogram' || type === 'summary') for (const s of ['_count', '_sum']) out.add(name + s);
    if (type === 'histogram') out.add(`${name}_bucket`);
  };
  const declared = /new\s+(Counter|Gauge|Histogram|Summary)\s*(?:<[^>]*>)?\s*\(\s*\{\s*name:\s*['"]([a-zA-Z_:][\w:]*)['"]/g;
  for (const dir of SERVICE_DIRS) {
    for (const file of fs.readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts') || /\.(test|contract)\.ts$/.test(file) || /(^|[/\\])(test-support|__fixtures__)([/\\]|$)/.test(file)) continue;
      const source = fs.readFileSync(path.join(ROOT, dir, file), 'utf8');
      for (const m of source.matchAll(declared)) add(m[2], m[1].toLowerCase());
    }
  }
  const registry = createMetricsRegistry();
  for (const metric of await registry.getMetricsAsJSON()) add(metric.name, String(metric.type));
  registry.clear();
  return out;
}

const files = fs.readdirSync(HERE).filter((f) => f.endsWith('.json')).sort();
const dashboards = files.map((file) => ({ file, dash: JSON.parse(fs.readFileSync(path.join(HERE, file), 'utf8')) as Dashboard }));

/** Panels, with rows' nested (collapsed) panels flattened in. */
function allPanels(d: Dashboard): Panel[] {
  return (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every PromQL string in a dashboard: panel targets and query-variable definitions (`label_values(sel, label)`). */
function expressions(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of allPanels(d)) for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr ?? '' });
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = v.definition ?? (typeof v.query === 'string' ? v.query : v.query?.query) ?? '';
    const m = /^label_values\((.*),\s*\w+\)$/.exec(q.trim());
    out.push({ where: `variable $${v.name}`, expr: m ? m[1] : q });
  }
  return out;
}

describe('PromQL metric-name extraction', () => {
  it('finds metric names and skips functions, labels, ranges, variables and numbers', () => {
    expect(metricNames('histogram_quantile(0.95, sum by (le, kind) (rate(origin_blocking_wait_seconds_bucket{kind="part"}[$__rate_interval])))')).toEqual([
      'origin_blocking_wait_seconds_bucket',
    ]);
    expect(metricNames('8 * sum(rate(edge_bytes_served_total{instance=~"$instance"}[5m])) / 1e3 + on (job) group_left up_metric')).toEqual([
      'edge_bytes_served_total',
      'up_metric',
    ]);
  });

  it('rejects names that break the naming rules', () => {
    expect(namingProblem('edge_requests_total')).toBeNull();
    expect(namingProblem('http_request_duration_seconds_bucket')).toBeNull();
    expect(namingProblem('edge_requests')).toMatch(/unit/);
    expect(namingProblem('edge_requests_total_bucket')).toMatch(/histogram/);
    expect(namingProblem('edge_cmcd_measured_throughput_bits_per_second_bucket')).toBeNull();
    expect(namingProblem('egde_requests_total')).toMatch(/prefix/);
  });
});

describe.each(dashboards)('dashboard $file', ({ file, dash }) => {
  it('has a title, a uid Grafana accepts and a recent schema', () => {
    expect(dash.title, file).toMatch(/\S/);
    expect(dash.uid, file).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dash.schemaVersion, file).toBeGreaterThanOrEqual(36);
  });

  it('takes its Prometheus data source from the DS_PROMETHEUS variable', () => {
    const ds = dash.templating?.list?.find((v) => v.name === 'DS_PROMETHEUS');
    expect(ds, 'templating needs a DS_PROMETHEUS variable').toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of allPanels(dash).filter((p) => p.type !== 'row')) {
      expect(p.datasource, `panel "${p.title}"`).toEqual({ type: 'prometheus', uid: DS_UID });
      for (const t of p.targets ?? []) expect(t.datasource, `panel "${p.title}" ${t.refId}`).toEqual({ type: 'prometheus', uid: DS_UID });
    }
  });

  it('has panels with unique ids, each with targets and an expression, on a non-overlapping 24-column grid', () => {
    const panels = allPanels(dash);
    expect(panels.filter((p) => p.type !== 'row').length).toBeGreaterThan(0);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const taken = new Set<string>();
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, `panel "${p.title}" is wider than the grid`).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          expect(taken.has(`${i},${j}`), `panel "${p.title}" overlaps another at ${i},${j}`).toBe(false);
          taken.add(`${i},${j}`);
        }
      }
      if (p.type === 'row') continue;
      expect(p.targets?.length, `panel "${p.title}" has no targets`).toBeGreaterThan(0);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, `panel "${p.title}" repeats a refId`).toBe(refIds.length);
      for (const t of p.targets ?? []) expect(t.expr, `panel "${p.title}" ${t.refId}`).toMatch(/\S/);
    }
  });

  it('writes balanced expressions that use only defined variables', () => {
    const defined = new Set((dash.templating?.list ?? []).map((v) => v.name));
    for (const { where, expr } of expressions(dash)) {
      const stack: string[] = [];
      const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
      for (const ch of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
        if ('([{'.includes(ch)) stack.push(ch);
        else if (ch in pairs) expect(stack.pop(), `${where}: unbalanced ${ch} in ${expr}`).toBe(pairs[ch]);
      }
      expect(stack, `${where}: unclosed ${stack.join('')} in ${expr}`).toEqual([]);
      for (const m of expr.matchAll(/\$\{?(\w+)\}?/g)) {
        if (m[1].startsWith('__')) continue; // Grafana built-ins: $__rate_interval, $__range, ...
        expect(defined.has(m[1]), `${where} uses undefined variable $${m[1]}`).toBe(true);
      }
    }
  });

  it('queries only metric families that follow the naming rules and that the services export', async () => {
    const exported = await exportedSeries();
    const problems: string[] = [];
    for (const { where, expr } of expressions(dash)) {
      const names = metricNames(expr);
      if (names.length === 0) problems.push(`${where}: no metric in ${expr}`);
      for (const name of names) {
        const naming = namingProblem(name);
        if (naming) problems.push(`${where}: ${naming}`);
        else if (!exported.has(name)) problems.push(`${where}: ${name} is not exported by any service`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('dashboard set', () => {
  it('has the five dashboards with distinct uids and titles', () => {
    expect(files).toEqual(['business.json', 'control-api.json', 'edge.json', 'live-overview.json', 'viewer-qos.json']);
    expect(new Set(dashboards.map((d) => d.dash.uid)).size).toBe(dashboards.length);
    expect(new Set(dashboards.map((d) => d.dash.title)).size).toBe(dashboards.length);
  });
});
