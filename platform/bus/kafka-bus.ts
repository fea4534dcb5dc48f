import crypto from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer, type LogEntry, type Producer } from 'kafkajs';
import type { Logger } from '../logger.js';
import type { Bus, Handler, SubscribeOptions, TopicMap, Unsubscribe } from './bus.js';
import { BusClosedError, type BusDeps } from './memory-bus.js';

/** Brokers and naming for the Kafka bus. */
export interface KafkaBusConfig {
  brokers: string[];
  clientId?: string;
  /** Prefix of every consumer group id (default `streamforge.`). */
  groupPrefix?: string;
  /**
   * Partitions of topics this bus creates (default 1). Kafka orders messages per partition only, and
   * the bus has no message keys, so more than one partition trades per-topic order for parallelism.
   */
  partitions?: number;
  /** Handler failures of a grouped message before it is skipped (default 10). */
  maxDeliveries?: number;
  /** How long subscribe() waits for the consumer to join its group (default 30 s). */
  joinTimeoutMs?: number;
}

/** Routes kafkajs log lines into pino at the matching level. */
function logCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const fields = { ...extra, namespace };
      if (level === logLevel.ERROR) logger.error(fields, message);
      else if (level === logLevel.WARN) logger.warn(fields, message);
      else if (level === logLevel.INFO) logger.debug(fields, message); // kafkajs INFO is chatty
      else logger.trace(fields, message);
    };
}

/**
 * Bus on Kafka (kafkajs). A plain subscriber gets a consumer group of its own (a unique groupId), so
 * every plain subscriber sees every message; grouped subscribers share the named groupId, so Kafka
 * assigns each partition, and thus each message, to one member. A grouped handler that throws is
 * retried (its offset is not committed) up to maxDeliveries times; a plain one is logged and skipped.
 */
export class KafkaBus<T extends TopicMap> implements Bus<T> {
  private readonly logger: Logger;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly consumers = new Set<Consumer>();
  private readonly topics = new Map<string, Promise<void>>();
  private connected?: Promise<void>;
  private closed = false;

  constructor(
    deps: BusDeps,
    private readonly config: KafkaBusConfig,
  ) {
    this.logger = deps.logger.child({ mod: 'bus', driver: 'kafka' });
    this.kafka = new Kafka({
      clientId: config.clientId ?? 'streamforge',
      brokers: config.brokers,
      logLevel: logLevel.INFO,
      logCreator: logCreator(this.logger),
    });
    this.producer = this.kafka.producer({ allowAutoTopicCreation: false });
    this.admin = this.kafka.admin();
  }

  /** Connects the producer and admin client once. */
  private connect(): Promise<void> {
    this.connected ??= Promise.all([this.producer.connect(), this.admin.connect()]).then(() => undefined);
    return this.connected;
  }

  /** Creates the topic once per process (a no-op when it exists). */
  private ensureTopic(topic: string): Promise<void> {
    let ready = this.topics.get(topic);
    if (!ready) {
      ready = this.connect()
        .then(() =>
          this.admin.createTopics({
            topics: [{ topic, numPartitions: this.config.partitions ?? 1 }],
            waitForLeaders: true,
          }),
        )
        .then(() => undefined);
      ready.catch(() => this.topics.delete(topic)); // try again next time
      this.topics.set(topic, ready);
    }
    return ready;
  }

  async publish<K extends keyof T & string>(topic: K, msg: T[K]): Promise<void> {
    if (this.closed) throw new BusClosedError();
    await this.ensureTopic(topic);
    await this.producer.send({ topic, messages: [{ value: JSON.stringify(msg) }] });
  }

  async subscribe<K extends keyof T & string>(
    topic: K,
    handler: Handler<T[K]>,
    opts: SubscribeOptions = {},
  ): Promise<Unsubscribe> {
    if (this.closed) throw new BusClosedError();
    await this.ensureTopic(topic);
    const prefix = this.config.groupPrefix ?? 'streamforge.';
    const group = opts.group;
    const groupId = group ? `${prefix}${group}` : `${prefix}fanout.${crypto.randomUUID()}`;
    const consumer = this.kafka.consumer({ groupId });
    const maxDeliveries = this.config.maxDeliveries ?? 10;
    const failures = new Map<string, number>();
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: false });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const id = `${partition}:${message.offset}`;
          let msg: T[K];
          try {
            msg = JSON.parse(message.value?.toString() ?? '') as T[K];
          } catch (err) {
            this.logger.error({ err, topic, id }, 'unparseable bus message skipped');
            return;
          }
          try {
            await handler(msg);
            failures.delete(id);
          } catch (err) {
            const attempts = (failures.get(id) ?? 0) + 1;
            if (!group || attempts >= maxDeliveries) {
              failures.delete(id);
              this.logger.error({ err, topic, group, id, attempts }, 'bus handler failed; message skipped');
              return;
            }
            failures.set(id, attempts);
            this.logger.error({ err, topic, group, id, attempts }, 'bus handler failed; will be retried');
            throw err; // uncommitted: kafkajs seeks back to this offset and delivers it again
          }
        },
      });
      // Until the group is joined and partitions assigned, messages published now would be missed.
      const timeoutMs = this.config.joinTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        joined,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`kafka consumer ${groupId} did not join within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    } catch (err) {
      await consumer.disconnect().catch(() => {});
      throw err;
    }
    this.consumers.add(consumer);
    return async () => {
      if (!this.consumers.delete(consumer)) return;
      await consumer.disconnect();
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const consumers = [...this.consumers];
    this.consumers.clear();
    await Promise.allSettled(consumers.map((c) => c.disconnect()));
    if (this.connected) await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }
}
