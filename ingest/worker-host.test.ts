import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../platform/index.js';
import { WorkerHost, type WorkerHostEvents } from './worker-host.js';
import type { RtmpWorkerConfig } from './worker-protocol.js';

const HUNG = path.join(path.dirname(fileURLToPath(import.meta.url)), '__fixtures__', 'hung-worker.mjs');

describe('WorkerHost', () => {
  it('kills a worker that stops answering its heartbeat and starts a new one', async () => {
    const host = new WorkerHost(
      { logger: createLogger('silent') },
      { worker: { rtmpPort: 0, flvPort: 0 } as RtmpWorkerConfig, heartbeatIntervalMs: 100, heartbeatTimeoutMs: 400, entry: HUNG },
    );
    const exits: WorkerHostEvents['exit'][0][] = [];
    host.on('exit', (e) => exits.push(e));
    await host.start();
    const first = host.pid;
    const second = await new Promise<WorkerHostEvents['ready'][0]>((resolve) => host.once('ready', resolve));
    expect(exits).toHaveLength(1);
    expect(exits[0]).toMatchObject({ signal: 'SIGKILL', expected: false, pid: first });
    expect(second.pid).not.toBe(first);
    expect(second.generation).toBe(2);
    await host.close();
    expect(exits.at(-1)?.expected).toBe(true);
  });
});
