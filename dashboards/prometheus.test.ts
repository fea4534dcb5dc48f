/**
 * The dashboards and alert rules against a real Prometheus (Debian's `prometheus` and `promtool`):
 * the one-process platform runs a live stream that hls.js plays in Chromium, a VOD upload and a
 * subscription checkout; Prometheus scrapes it every second and loads deploy/prometheus/alerts.yml.
 * Every dashboard panel's query and variable query must return data, every alert rule must evaluate
 * without error over series that exist, and promtool must accept the config and pass the rules' unit
 * tests.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, playWithHlsJs } from '../e2e/player.js';
import { api, freePort, publishTestPattern, signUp, startTestPlatform, stop, uploadAsset, waitUntil, type TestPlatform } from '../e2e/support.js';
import { metricNames } from './promql.js';

const execFileP = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const RULES = path.join(ROOT, 'deploy/prometheus/alerts.yml');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prom-e2e-'));

interface Panel { title?: string; targets?: { refId?: string; expr?: string }[]; panels?: Panel[] }
interface Dashboard { title: string; panels?: Panel[]; templating?: { list?: { name: string; type: string; allValue?: string; definition?: string; query?: string | { query?: string } }[] } }

const dashboards = fs.readdirSync(path.join(ROOT, 'dashboards')).filter((f) => f.endsWith('.json')).sort()
  .map((file) => ({ file, dash: JSON.parse(fs.readFileSync(path.join(ROOT, 'dashboards', file), 'utf8')) as Dashboard }));

/** A panel query as Grafana would send it: variables at their "All" value, intervals a few scrapes long. */
function substitute(expr: string, dash: Dashboard): string {
  let out = expr.replace(/\$__rate_interval|\$\{__rate_interval\}/g, '15s').replace(/\$__range|\$\{__range\}/g, '5m').replace(/\$__interval|\$\{__interval\}/g, '5s');
  for (const v of dash.templating?.list ?? []) out = out.replace(new RegExp(`\\$\\{?${v.name}\\}?(?![A-Za-z0-9_])`, 'g'), v.allValue ?? '.*');
  return out;
}

let platform: TestPlatform;
let prometheus: ChildProcess | undefined;
let publisher: ChildProcess | undefined;
let browser: Browser;
let promUrl: string;
let promLog = '';

async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return res.json() as Promise<{ status: string; error?: string; data?: { result: unknown[] } }>;
}

beforeAll(async () => {
  platform = await startTestPlatform({ VOD_SEGMENT_SECONDS: '2', VOD_LADDER: '240p:240:300', VOD_X264_PRESET: 'ultrafast' });
  const token = await signUp(platform.api);
  const stream = (await api(platform.api, 'POST', '/v1/live-streams', { title: 'observed' }, token)).body;
  publisher = publishTestPattern(`${stream.rtmpUrl}/${stream.streamKey}`, { seconds: 240 });
  const source = path.join(tmp, 'vod.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', source]);
  const assetRef = await uploadAsset(platform.api, token, source, { title: 'observed VOD' });
  // Player beacons of a VOD view and a live view, through the bus to the platform's analytics aggregator.
  const now = Date.now();
  const ev = (type: string, extra: Record<string, unknown>) => ({ id: crypto.randomUUID(), type, at: now, ...extra });
  for (const [mediaId, mediaKind] of [[stream.id, 'live'], [assetRef.id, 'vod']] as const) {
    const res = await fetch(`${platform.api}/v1/qos`, {
      method: 'POST', headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ sessionId: `s-${crypto.randomUUID()}`, mediaId, mediaKind, events: [ev('start', { startupSeconds: 1.1 }), ev('rebuffer', { durationSeconds: 0.4 }), ev('playing', { watchedSeconds: 10 }), ev('latency', { latencySeconds: 1.8 })] }),
    });
    expect(res.status).toBe(202);
  }
  await waitUntil('beacons applied', async () => (await api(platform.api, 'GET', `/v1/assets/${assetRef.id}/analytics`, undefined, token)).body.views === 1, 10_000, 100);
  // A payment event (built-in checkout), so billing series exist.
  const checkout = await api(platform.api, 'POST', '/v1/subscriptions/checkout', { planId: 'basic' }, token);
  await fetch(checkout.body.url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'method=card' });

  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const apiTarget = new URL(platform.api).host;
  const config = path.join(tmp, 'prometheus.yml');
  fs.writeFileSync(config, [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    `rule_files: [${JSON.stringify(RULES)}]`,
    'scrape_configs:',
    '  - job_name: streamforge',
    `    static_configs: [{ targets: [${JSON.stringify(apiTarget)}] }]`,
  ].join('\n'));
  prometheus = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(tmp, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  prometheus.stderr!.on('data', (d: Buffer) => (promLog = (promLog + d.toString()).slice(-4000)));
  await waitUntil('prometheus ready', async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok, 30_000, 200);
  await waitUntil('the live stream at the edge', async () => (await fetch(stream.playback.hls)).ok, 60_000, 250);
  browser = await launchChromium();
  // A viewer plays while Prometheus scrapes: edge, origin and part delay series fill in.
  const played = await playWithHlsJs(stream.playback.hls, 12, browser, { cmcd: true });
  expect(played.fatalErrors).toEqual([]);
  await waitUntil('twelve scrapes', async () => {
    const r = await query('count_over_time(up{job="streamforge"}[1m])');
    return Number((r.data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1] ?? 0) >= 12;
  }, 60_000, 500);
}, 300_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await stop(publisher);
  await browser?.close();
  await platform?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('dashboards and alerts on a real Prometheus', () => {
  it('promtool accepts the scrape config and the rules, and the rules pass their unit tests', async () => {
    for (const args of [['check', 'config', path.join(ROOT, 'deploy/prometheus/prometheus.yml')], ['check', 'rules', RULES], ['test', 'rules', path.join(ROOT, 'deploy/prometheus/alerts.test.yml')]]) {
      const { stdout } = await execFileP('promtool', args, { cwd: path.join(ROOT, 'deploy/prometheus') });
      expect(stdout, args.join(' ')).toMatch(/SUCCESS/);
    }
  });

  it.each(dashboards)('every panel and variable query of $file returns data', async ({ dash }) => {
    const dead: string[] = [];
    const panels = (dash.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        const expr = substitute(t.expr ?? '', dash);
        const r = await query(expr);
        if (r.status !== 'success') dead.push(`"${p.title}" ${t.refId}: ${r.error} (${expr})`);
        else if (!r.data?.result.length) dead.push(`"${p.title}" ${t.refId}: no data (${expr})`);
      }
    }
    for (const v of dash.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      const q = v.definition ?? (typeof v.query === 'string' ? v.query : v.query?.query) ?? '';
      const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q.trim());
      if (!m) continue;
      const r = await query(`group by (${m[2]}) (${substitute(m[1], dash)})`);
      if (!r.data?.result.length) dead.push(`variable $${v.name}: no values (${q})`);
    }
    expect(dead, `${dash.title}: ${dead.length} dead queries`).toEqual([]);
  });

  it('exports build info and the VOD queue', async () => {
    const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect((await query(`streamforge_build_info{version="${version}"}`)).data?.result).toHaveLength(1);
    // The upload was transcoded: nothing waits.
    expect(((await query('vod_jobs_queued')).data?.result[0] as { value: [number, string] }).value[1]).toBe('0');
  });

  it('sees what hls.js reports over CMCD: requests by object type, buffer lengths and throughput', async () => {
    const value = async (expr: string) => Number(((await query(expr)).data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1] ?? 0);
    expect(await value('sum(edge_cmcd_requests_total{ot=~"v|av|a"})')).toBeGreaterThan(5);
    expect(await value('sum(edge_cmcd_requests_total{ot="m"})')).toBeGreaterThan(0);
    expect(await value('sum(edge_cmcd_buffer_length_seconds_count)')).toBeGreaterThan(0);
    expect(await value('sum(edge_cmcd_measured_throughput_bits_per_second_count)')).toBeGreaterThan(0);
  });

  it('evaluates every alert rule without error, over series that exist', async () => {
    const rules = await waitUntil('rules evaluated', async () => {
      const r = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; query: string; health: string; lastError?: string }[] }[] } };
      const all = r.data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((x) => x.health !== 'unknown') ? all : undefined;
    }, 20_000, 500);
    expect(rules.length).toBeGreaterThanOrEqual(11);
    const broken = rules.filter((x) => x.health !== 'ok').map((x) => `${x.name}: ${x.health} ${x.lastError ?? ''}`);
    expect(broken).toEqual([]);
    const missing: string[] = [];
    for (const rule of rules) {
      for (const name of metricNames(rule.query)) {
        const r = await query(`count(${name})`);
        if (!r.data?.result.length) missing.push(`${rule.name}: ${name}`);
      }
    }
    expect(missing, promLog).toEqual([]);
  });
});
