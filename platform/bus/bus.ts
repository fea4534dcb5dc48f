/** Stops a subscription. */
export type Unsubscribe = () => Promise<void>;

/** A topic map: topic name (`module.noun.pastTense`) → JSON payload type. */
export type TopicMap = { [topic: string]: object };

/** Subscription options. */
export interface SubscribeOptions {
  /**
   * Consumer group: each message goes to one subscriber of the group (work sharing, durable where the
   * adapter is). Without a group every subscriber receives every message published after it subscribed.
   */
  group?: string;
}

/** Handler for one topic; a thrown error is logged and, for grouped durable adapters, retried. */
export type Handler<M> = (msg: M) => void | Promise<void>;

/** Event bus: in-process (default), Redis Streams, or Kafka. Payloads are plain JSON. */
export interface Bus<T extends TopicMap> {
  publish<K extends keyof T & string>(topic: K, msg: T[K]): Promise<void>;
  subscribe<K extends keyof T & string>(topic: K, handler: Handler<T[K]>, opts?: SubscribeOptions): Promise<Unsubscribe>;
  close(): Promise<void>;
}
