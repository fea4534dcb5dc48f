/**
 * Child processes of the benchmark: the origin and the edge each get a process of their own, so the
 * load tool, the origin and the cache under test never share an event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A started child that reported ready with the port it listens on. */
export interface Child {
  process: ChildProcess;
  pid: number;
  port: number;
  /** SIGTERM, then SIGKILL after 3 s; resolves once it exited. */
  stop(): Promise<void>;
}

/** Message a launcher sends over IPC once it listens. */
export interface ReadyMessage {
  ready: true;
  port: number;
}

/**
 * Runs `script` (a compiled .js file beside this one) with Node, passing `config` as JSON in argv[2],
 * and waits for its ready message. `nodeArgs` go before the script (e.g. `--cpu-prof`). Stderr is
 * passed through so crashes are visible.
 */
export function startNodeChild(script: string, config: unknown, nodeArgs: string[] = [], timeoutMs = 15_000): Promise<Child> {
  const file = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, [...nodeArgs, file, JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not report ready in ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited before it was ready (code ${code}, signal ${signal})`));
    });
    child.once('message', (m: ReadyMessage) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ process: child, pid: child.pid!, port: m.port, stop: () => stopChild(child) });
    });
  });
}

/** Stops a child politely, then firmly; resolves when it has exited. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** For launchers: tells the parent we listen on `port`, and exits when the parent goes away or asks. */
export function reportReady(port: number, close: () => Promise<void>): void {
  const exit = () => void close().finally(() => process.exit(0));
  process.once('SIGTERM', exit);
  process.once('SIGINT', exit);
  process.once('disconnect', exit);
  process.send?.({ ready: true, port } satisfies ReadyMessage);
}
