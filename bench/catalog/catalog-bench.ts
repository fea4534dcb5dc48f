/**
 * Catalog at scale: `titles` generated titles and `progressRows` watch-progress rows loaded with SQL
 * (deterministic: setseed), then search and browse requests through the real control-api app
 * (`app.inject`, one at a time), and EXPLAIN of the hot queries to show they use indexes.
 */
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { buildControlApi, controlApiMigrations, createServices } from '../../control-api/index.js';
import { createLogger, createMetricsRegistry, loadConfig, MemoryLiveState, migrate, type Sql } from '../../platform/index.js';

/** Sizes of one run. */
export interface CatalogBenchOptions {
  titles: number;
  progressRows: number;
  profiles: number;
  searches: number;
  browses: number;
}

/** Latency summary in ms. */
export interface Latency {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** One engine's results. */
export interface CatalogEngineResult {
  engine: string;
  loadSeconds: number;
  search: Latency;
  searchTypo: Latency;
  searchPrefix: Latency;
  browseCold: Latency;
  browseWarm: Latency;
  continueWatching: Latency;
  plans: { query: string; seqScans: string[]; ms: number }[];
}

const WORDS = `shadow river star night winter empire garden storm silver iron ghost ocean desert forest crown blood glass fire city
  dream machine secret last first hidden lost broken golden dark bright wild quiet falling rising endless crimson frozen burning
  echo signal orbit planet harbor island mountain valley kingdom station voyage legacy promise memory journey frontier horizon`.split(/\s+/).filter(Boolean);
const FIRST = 'anna ben carla david elena frank grace hugo iris jack kira leo mia noah olga paul quinn rosa sam tara'.split(' ');
const LAST = 'adams baker chen diaz evans fox garcia hill ito jones kim lopez miller nguyen owens patel reyes smith turner wu'.split(' ');
const GENRES = ['action', 'adventure', 'animation', 'children', 'comedy', 'crime', 'documentary', 'drama', 'fantasy', 'film-noir', 'horror', 'musical', 'mystery', 'romance', 'sci-fi', 'thriller', 'war', 'western'];

const sqlArray = (xs: string[]) => `ARRAY[${xs.map((x) => `'${x}'`).join(',')}]`;

/** Loads the data set (titles, accounts, profiles, progress, views) with set-based SQL. */
export async function loadCatalog(sql: Sql, opts: CatalogBenchOptions, progress: (msg: string) => void): Promise<void> {
  await migrate(sql, controlApiMigrations);
  const w = sqlArray(WORDS);
  await sql.query(`SELECT setseed(0.42)`);
  await sql.query(`INSERT INTO accounts (id, email, password_hash, display_name, role) VALUES ('00000000-0000-4000-8000-000000000001', 'creator@bench.test', 'x', 'creator', 'creator')`);
  progress(`titles: ${opts.titles}`);
  // Names of two or three vocabulary words; one title of every 1000 is a known film name.
  await sql.query(
    `INSERT INTO titles (id, account_id, type, name, description, genres, release_date, release_year, maturity_rating, maturity_rank,
                         languages, cast_names, tags, status, published_at, popularity, created_at, updated_at)
     SELECT md5('t' || n)::uuid, '00000000-0000-4000-8000-000000000001', CASE WHEN n % 10 = 0 THEN 'series' ELSE 'movie' END,
            CASE WHEN n % 1000 = 7 THEN 'Interstellar ' || (n / 1000) ELSE initcap(w[1 + n % ${WORDS.length}] || ' ' || w[1 + (n * 7) % ${WORDS.length}] || CASE WHEN n % 3 = 0 THEN ' ' || w[1 + (n * 13) % ${WORDS.length}] ELSE '' END) END,
            'A ' || w[1 + (n * 17) % ${WORDS.length}] || ' story of ' || w[1 + (n * 19) % ${WORDS.length}] || ' and ' || w[1 + (n * 23) % ${WORDS.length}] || ' in the ' || w[1 + (n * 29) % ${WORDS.length}] || ' ' || w[1 + (n * 31) % ${WORDS.length}] || '.',
            ARRAY[g[1 + n % 18]] || CASE WHEN n % 2 = 0 THEN ARRAY[g[1 + (n * 5) % 18]] ELSE '{}'::text[] END,
            make_date(1950 + n % 75, 1 + n % 12, 1 + n % 28), 1950 + n % 75,
            r[1 + n % 5], (n % 5)::smallint, ARRAY['en'], ARRAY[f[1 + n % 20] || ' ' || l[1 + (n * 3) % 20], f[1 + (n * 7) % 20] || ' ' || l[1 + (n * 11) % 20]],
            ARRAY[w[1 + (n * 37) % ${WORDS.length}]], 'published', now() - (n || ' minutes')::interval, (random() * 10000)::bigint, now(), now()
       FROM generate_series(1, $1::int) AS n,
            (SELECT ${w}::text[] AS w, ${sqlArray(GENRES)}::text[] AS g, ARRAY['G','PG','PG-13','R','NC-17']::text[] AS r,
                    ${sqlArray(FIRST)}::text[] AS f, ${sqlArray(LAST)}::text[] AS l) v`,
    [opts.titles],
  );
  const accounts = Math.ceil(opts.profiles / 5);
  progress(`accounts ${accounts}, profiles ${opts.profiles}`);
  await sql.query(
    `INSERT INTO accounts (id, email, password_hash, display_name, role)
     SELECT md5('a' || n)::uuid, 'viewer' || n || '@bench.test', 'x', 'viewer ' || n, 'viewer' FROM generate_series(1, $1::int) AS n`,
    [accounts],
  );
  await sql.query(
    `INSERT INTO profiles (id, account_id, name, kind, maturity_ceiling, created_at)
     SELECT md5('p' || n)::uuid, md5('a' || (1 + (n - 1) / 5))::uuid, 'p' || n, CASE WHEN n % 5 = 0 THEN 'kids' ELSE 'standard' END,
            CASE WHEN n % 5 = 0 THEN 'PG' ELSE 'NC-17' END, now()
       FROM generate_series(1, $1::int) AS n`,
    [opts.profiles],
  );
  progress(`watch progress: ${opts.progressRows} rows`);
  const perProfile = Math.max(1, Math.round(opts.progressRows / opts.profiles));
  // Batches keep PGlite's memory flat; each profile watches perProfile spread-out titles.
  const batch = Math.max(1, Math.floor(200_000 / perProfile));
  for (let start = 1; start <= opts.profiles; start += batch) {
    await sql.query(
      `INSERT INTO watch_progress (profile_id, title_id, position_seconds, finished, session_id, updated_at)
       SELECT md5('p' || p)::uuid, md5('t' || (1 + ((p * 7919 + j * 104729) % $3::int)))::uuid, (j * 37) % 5400, j % 3 = 0, 's', now() - ((p + j) || ' minutes')::interval
         FROM generate_series($1::int, $2::int) AS p, generate_series(1, $4::int) AS j
       ON CONFLICT DO NOTHING`,
      [start, Math.min(opts.profiles, start + batch - 1), opts.titles, perProfile],
    );
    progress(`  ${Math.min(opts.profiles, start + batch - 1)} / ${opts.profiles} profiles`);
  }
  progress('views for trending (last 7 days)');
  await sql.query(
    `INSERT INTO title_views (profile_id, session_id, title_id, viewed_at)
     SELECT md5('p' || (1 + n % $2::int))::uuid, 'v' || n, md5('t' || (1 + ((n::bigint * 48271) % $3::int)))::uuid, now() - ((n % 10080) || ' minutes')::interval
       FROM generate_series(1, $1::int) AS n ON CONFLICT DO NOTHING`,
    [Math.min(200_000, opts.progressRows / 5), opts.profiles, Math.min(opts.titles, 5000)],
  );
  // The product keeps this rollup as views arrive (engagement/watching.ts).
  await sql.query(`INSERT INTO title_view_days (title_id, day, views) SELECT title_id, (viewed_at AT TIME ZONE 'UTC')::date, count(*) FROM title_views GROUP BY 1, 2 ON CONFLICT DO NOTHING`);
  // As a maintained database would be: statistics, and the visibility map set, so autovacuum does not
  // start on the freshly loaded tables in the middle of the measurements.
  progress('VACUUM ANALYZE');
  await sql.query(`VACUUM ANALYZE`);
}

function summarise(samples: number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { n: s.length, p50: Math.round(at(0.5) * 100) / 100, p99: Math.round(at(0.99) * 100) / 100, max: Math.round(s[s.length - 1] * 100) / 100 };
}

/** Requests made before each measured series and not counted (JIT, plan and buffer caches warm up). */
export const WARM_UP_REQUESTS = 20;

async function timedRequests(app: FastifyInstance, urls: string[], headers: (k: number) => Record<string, string>): Promise<Latency> {
  for (const [k, url] of urls.slice(-WARM_UP_REQUESTS).entries()) await app.inject({ method: 'GET', url, headers: headers(k) });
  const samples: number[] = [];
  for (const [k, url] of urls.entries()) {
    const t0 = performance.now();
    const res = await app.inject({ method: 'GET', url, headers: headers(k) });
    samples.push(performance.now() - t0);
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
  }
  return summarise(samples);
}

/** Runs the searches, browses and EXPLAINs on a loaded database. */
export async function measureCatalog(sql: Sql, engine: string, opts: CatalogBenchOptions, loadSeconds: number, progress: (msg: string) => void): Promise<CatalogEngineResult> {
  const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: crypto.randomBytes(32).toString('hex'), INTERNAL_TOKEN: crypto.randomBytes(32).toString('hex'), API_PORT: '0' });
  const logger = createLogger('silent');
  const liveState = new MemoryLiveState();
  const deps = { sql, liveState, logger, metrics: createMetricsRegistry(false) };
  const services = createServices(deps, config);
  const app = await buildControlApi({ ...deps, services }, config);
  try {
    const accountOf = (p: number) => crypto.createHash('md5').update(`a${1 + Math.floor((p - 1) / 5)}`).digest('hex');
    const uuid = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    const profile = (p: number) => uuid(crypto.createHash('md5').update(`p${p}`).digest('hex'));
    const tokenFor = (p: number) => `Bearer ${services.tokens.signAccess({ accountId: uuid(accountOf(p)), role: 'viewer' })}`;
    const pick = (k: number) => 1 + ((k * 2654435761) % opts.profiles);
    const word = (k: number) => WORDS[(k * 7) % WORDS.length];
    const typo = (s: string) => (s.length > 4 ? s.slice(0, 2) + s[3] + s[2] + s.slice(4) : s + 'e');
    const asUser = (k: number) => ({ authorization: tokenFor(pick(k)) });
    // One viewer issues every request of a kind (the cost is the query, not whose token it is).
    const p0 = pick(1);
    const headers = () => ({ authorization: tokenFor(p0) });
    const q = (s: string) => `/v1/search?q=${encodeURIComponent(s)}&profileId=${profile(p0)}`;
    progress(`${engine}: search`);
    const search = await timedRequests(app, Array.from({ length: opts.searches }, (_, k) => q(`${word(k)} ${word(k + 3)}`)), headers);
    const searchTypo = await timedRequests(app, Array.from({ length: opts.searches }, (_, k) => q(k % 10 === 0 ? 'intersteller' : typo(word(k)))), headers);
    const searchPrefix = await timedRequests(app, Array.from({ length: opts.searches }, (_, k) => q(word(k).slice(0, 3 + (k % 3)))), headers);
    progress(`${engine}: browse`);
    const browseUrls = Array.from({ length: opts.browses }, (_, k) => `/v1/browse?profileId=${profile(pick(k))}`);
    const browseHeaders = (k: number) => asUser(k);
    // Cold: the catalog version moves before every request, so every shared row is recomputed.
    const samplesCold: number[] = [];
    const samplesWarm: number[] = [];
    for (const [k, url] of browseUrls.entries()) {
      await services.catalog.browse.catalogChanged();
      let t0 = performance.now();
      let res = await app.inject({ method: 'GET', url, headers: browseHeaders(k) });
      samplesCold.push(performance.now() - t0);
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
      t0 = performance.now();
      res = await app.inject({ method: 'GET', url, headers: browseHeaders(k) });
      samplesWarm.push(performance.now() - t0);
    }
    const continueWatching = await timedRequests(app, Array.from({ length: opts.browses }, (_, k) => `/v1/profiles/${profile(pick(k))}/continue-watching`), browseHeaders);
    progress(`${engine}: EXPLAIN`);
    const plans = await explainHotQueries(sql, profile(p0));
    return { engine, loadSeconds, search, searchTypo, searchPrefix, browseCold: summarise(samplesCold), browseWarm: summarise(samplesWarm), continueWatching, plans };
  } finally {
    await app.close();
    await liveState.close();
  }
}

/** The hot queries, as the services run them; a plan node "Seq Scan on titles|watch_progress|…" is a finding. */
export async function explainHotQueries(sql: Sql, profileId: string): Promise<{ query: string; seqScans: string[]; ms: number }[]> {
  const visible = `t.status = 'published' AND t.maturity_rank <= 4 AND (t.series_id IS NULL OR (SELECT s.status = 'published' AND s.maturity_rank <= 4 FROM titles s WHERE s.id = t.series_id))`;
  const [src] = await sql.query<{ genres: string[]; tags: string[]; cast_names: string[] }>(`SELECT genres, tags, cast_names FROM titles WHERE id = md5('t5')::uuid`);
  const lit = (xs: string[]) => `ARRAY[${xs.map((x) => `'${x.replace(/'/g, "''")}'`).join(',')}]::text[]`;
  const srcOf = { genres: lit(src.genres), tags: lit(src.tags), cast_names: lit(src.cast_names) };
  const branch = (column: keyof typeof srcOf) =>
    `(SELECT t.id FROM titles t WHERE t.${column} && ${srcOf[column]} AND t.status = 'published' AND t.type <> 'episode' ORDER BY t.popularity DESC LIMIT 300)`;
  const queries: [string, string][] = [
    ['list newest', `SELECT t.id FROM titles t WHERE ${visible} AND t.type <> 'episode' ORDER BY t.published_at DESC, t.id DESC LIMIT 21`],
    ['list by genre', `SELECT t.id FROM titles t WHERE ${visible} AND t.type <> 'episode' AND t.genres @> ARRAY['drama']::text[] ORDER BY t.published_at DESC, t.id DESC LIMIT 21`],
    ['genre row (popular)', `SELECT t.id FROM titles t WHERE ${visible} AND t.type <> 'episode' AND t.genres @> ARRAY['drama']::text[] ORDER BY t.popularity DESC, t.published_at DESC, t.id LIMIT 100`],
    ['search', `SELECT t.id FROM titles t WHERE ${visible} AND t.type <> 'episode' AND (t.search_vector @@ websearch_to_tsquery('english', 'shadow river') OR t.name_vector @@ to_tsquery('simple', 'shadow:* & river:*') OR 'shadow river' <% t.name) ORDER BY t.popularity + 0 DESC LIMIT 500`],
    ['search prefix', `SELECT t.id FROM titles t WHERE ${visible} AND t.type <> 'episode' AND (t.search_vector @@ websearch_to_tsquery('english', 'sta') OR t.name_vector @@ to_tsquery('simple', 'sta:*')) ORDER BY t.popularity + 0 DESC LIMIT 500`],
    ['search typo', `SELECT t.id FROM titles t WHERE ${visible} AND ('intersteller' <% t.name) LIMIT 21`],
    ['because you watched', `WITH candidates AS (${branch('tags')} UNION ${branch('cast_names')} UNION ${branch('genres')})
      SELECT t.id FROM titles t JOIN candidates c ON c.id = t.id WHERE ${visible} AND t.id <> md5('t5')::uuid
      ORDER BY 2 * cardinality(ARRAY(SELECT unnest(t.genres) INTERSECT SELECT unnest(${srcOf.genres}))) + cardinality(ARRAY(SELECT unnest(t.tags) INTERSECT SELECT unnest(${srcOf.tags}))) DESC, t.popularity DESC, t.id LIMIT 100`],
    ['episodes of a series', `SELECT t.id FROM titles t WHERE t.series_id = md5('t10')::uuid AND ${visible} ORDER BY t.season, t.episode`],
    ['continue watching', `SELECT * FROM watch_progress WHERE profile_id = '${profileId}' ORDER BY updated_at DESC LIMIT 300`],
    ['history page', `SELECT * FROM watch_progress WHERE profile_id = '${profileId}' ORDER BY updated_at DESC, title_id DESC LIMIT 21`],
    ['progress upsert lookup', `SELECT * FROM watch_progress WHERE profile_id = '${profileId}' AND title_id = md5('t1')::uuid`],
    ['trending', `SELECT title_id FROM title_view_days WHERE day > (now() AT TIME ZONE 'UTC')::date - 7 GROUP BY title_id ORDER BY sum(views * power(0.5, ((now() AT TIME ZONE 'UTC')::date - day)::float8)) DESC, title_id LIMIT 300`],
  ];
  const out: { query: string; seqScans: string[]; ms: number }[] = [];
  for (const [name, text] of queries) {
    const [row] = await sql.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`);
    const plan = row['QUERY PLAN'];
    const doc = (typeof plan === 'string' ? JSON.parse(plan) : plan) as { Plan: PlanNode; 'Execution Time': number }[];
    const seq: string[] = [];
    const walk = (n: PlanNode) => {
      // A node the executor never ran (a subplan no row needed) scanned nothing.
      if (n['Node Type'] === 'Seq Scan' && n['Relation Name'] && (n['Actual Loops'] ?? 1) > 0) seq.push(n['Relation Name']);
      for (const c of n.Plans ?? []) walk(c);
    };
    walk(doc[0].Plan);
    out.push({ query: name, seqScans: seq, ms: Math.round(doc[0]['Execution Time'] * 100) / 100 });
  }
  return out;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}
