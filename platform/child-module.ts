import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * How to fork a sibling module as a child process: `name.js` beside the caller when running the
 * build, else `name.ts` through vite-node (running from sources, as under vitest).
 */
export function childModuleCommand(callerUrl: string, name: string): { modulePath: string; args: string[] } {
  const dir = path.dirname(fileURLToPath(callerUrl));
  const js = path.join(dir, `${name}.js`);
  if (fs.existsSync(js)) return { modulePath: js, args: [] };
  const require = createRequire(callerUrl);
  return { modulePath: require.resolve('vite-node/vite-node.mjs'), args: [path.join(dir, `${name}.ts`)] };
}
