/**
 * The bench's window onto the end-to-end harness: the whole platform in-process on free ports, the
 * API helpers and Chromium, shared with e2e/ so the benchmark runs exactly what the e2e test checks.
 * (tsconfig.build.json compiles these e2e files into dist/ because this module imports them.)
 */
export { api, freePort, signUp, startTestPlatform, stop, waitUntil, type TestPlatform } from '../../e2e/support.js';
export { CHROMIUM_ARGS, launchChromium } from '../../e2e/player.js';
