#!/usr/bin/env node
/** The `streamforge` command (package.json "bin"). */
import { runCli } from './upload-cli.js';

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal });
process.exit(code);
