import type { Logger } from './logger.js';

/** Anything main.ts starts and must stop on SIGTERM. */
export interface Closeable {
  close(): Promise<void>;
}

/** Closes in reverse order of registration, logging (not throwing) individual failures. */
export class Lifecycle {
  private readonly items: { name: string; item: Closeable }[] = [];
  private closing?: Promise<void>;

  constructor(private readonly logger: Logger) {}

  /** Registers something to close; returns it for chaining. */
  add<T extends Closeable>(name: string, item: T): T {
    this.items.push({ name, item });
    return item;
  }

  /** Closes everything once; later calls return the same promise. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const { name, item } of [...this.items].reverse()) {
        try {
          await item.close();
        } catch (err) {
          this.logger.error({ err, name }, 'close failed');
        }
      }
    })();
    return this.closing;
  }

  /** Closes on SIGTERM/SIGINT, then exits; a second signal exits at once. */
  closeOnSignals(timeoutMs = 15_000): void {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) process.exit(130);
      signalled = true;
      this.logger.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        this.logger.error('shutdown timed out');
        process.exit(1);
      }, timeoutMs);
      timer.unref();
      void this.close().then(() => process.exit(0));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
}
