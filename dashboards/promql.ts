/** Reading PromQL for the dashboard and alert tests: the metric names an expression selects. */

/** PromQL words that look like identifiers but are not metric names. */
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'Inf', 'NaN']);

/** Metric names referenced by a PromQL expression (functions, labels, keywords and variables removed). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals (regexes, label values)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range selectors and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping label lists
    .replace(/\$\{?\w+\}?/g, ' '); // dashboard variables ($__rate_interval, ${job})
  const names: string[] = [];
  for (const m of bare.matchAll(/(?<![\w.:])[a-zA-Z_:][\w:]*/g)) {
    const word = m[0];
    const rest = bare.slice((m.index ?? 0) + word.length).trimStart();
    if (rest.startsWith('(') || PROMQL_WORDS.has(word)) continue; // a function or aggregation, or a keyword
    names.push(word);
  }
  return [...new Set(names)];
}

