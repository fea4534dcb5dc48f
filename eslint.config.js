// ESLint flat config: typescript-eslint plus one local rule that keeps data flowing one way
// (ingest / control-api → packager → origin → edge-cache; platform under everything).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Rank of each top-level module in the data flow; a module may import only ranks ≤ its own. */
const RANK = { platform: 0, ingest: 1, 'control-api': 1, packager: 2, origin: 3, 'edge-cache': 4 };
const ROOT = path.dirname(fileURLToPath(import.meta.url));

function moduleOf(file) {
  const rel = path.relative(ROOT, file).split(path.sep);
  return rel.length > 1 && rel[0] in RANK ? rel[0] : null;
}

/** Cross-module imports go through index.ts/contract.ts, never a deep path, never downstream. */
const oneWayFlow = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    const file = context.filename;
    const from = moduleOf(file);
    // Tests, test support and benchmarks may use platform/test-support (throwaway servers).
    const isTest = /\.(test|contract)\.ts$/.test(file) || file.includes(`${path.sep}test-support${path.sep}`) || path.relative(ROOT, file).startsWith(`bench${path.sep}`);
    function check(node, source, typeOnly) {
      if (!source.startsWith('.')) return;
      const target = path.resolve(path.dirname(file), source);
      const to = moduleOf(target);
      if (!to || to === from) return;
      const rest = path.relative(path.join(ROOT, to), target).replace(/\.(js|ts)$/, '');
      const isFace = rest === 'index' || rest === 'contract';
      if (!isFace && !(isTest && to === 'platform' && rest.startsWith('test-support'))) {
        context.report({ node, message: `Import ${to}/index or ${to}/contract, not the deep path ${to}/${rest}.` });
        return;
      }
      if (!from) return; // main.ts, bench/, e2e/ compose everything
      const controlPlaneRead = from === 'control-api' && rest === 'contract' && typeOnly;
      if (RANK[to] > RANK[from] && !controlPlaneRead) {
        context.report({ node, message: `${from} must not import downstream module ${to}.` });
      }
    }
    return {
      ImportDeclaration(node) { check(node, node.source.value, node.importKind === 'type'); },
      ExportNamedDeclaration(node) { if (node.source) check(node, node.source.value, node.exportKind === 'type'); },
      ExportAllDeclaration(node) { check(node, node.source.value, node.exportKind === 'type'); },
    };
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', '.test-tmp/**', 'bench/www/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { local: { rules: { 'one-way-flow': oneWayFlow } } },
    rules: {
      'local/one-way-flow': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'warn',
      'no-console': 'error',
    },
  },
  {
    files: ['**/*.test.ts', 'bench/**', 'e2e/**', 'deploy/**', 'platform/test-support/**', 'eslint.config.js'],
    rules: { 'no-console': 'off' },
  },
);
