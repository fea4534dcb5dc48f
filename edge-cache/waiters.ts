import type http from 'node:http';
import type { CacheEntry } from './cache-entry.js';
import type { Flight, FlightListener } from './coalescer.js';
import type { CacheOutcome } from './contract.js';
import { respondWithEntry, sendProblem, type Served } from './entry-responder.js';

/** What a waiter reports back to the server. */
export interface WaiterHost {
  /** The response is complete (for metrics). */
  finished(served: Served, outcome: CacheOutcome): void;
  /** The upstream fetch failed before this waiter sent anything: serve stale or a problem. */
  upstreamFailed(req: http.IncomingMessage, res: http.ServerResponse, key: string, err: Error, outcome: CacheOutcome): void;
}

/**
 * A plain GET waiting on a flight: gets the pre-serialised head, then every chunk as it arrives
 * (buffered chunks first when it joined late). A slow viewer buffers in its own socket, never
 * stalling the others (at most one object's bytes, as those are shared Buffers).
 */
export class StreamWaiter implements FlightListener {
  /** 'miss' for the request that started the flight (until the head says it is not storable), else 'coalesced'. */
  outcome: CacheOutcome = 'miss';
  done = false;
  private bytes = 0;

  constructor(
    private readonly host: WaiterHost,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
  ) {}

  onHead(flight: Flight): void {
    const head = flight.head!;
    if (this.outcome === 'miss' && !head.policy.store) this.outcome = 'bypass';
    this.res.writeHead(head.status, head.list);
  }

  onData(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.res.write(chunk);
  }

  onEnd(flight: Flight): void {
    this.done = true;
    this.res.end();
    this.host.finished({ status: flight.head!.status, bytes: this.bytes }, this.outcome);
  }

  onError(err: Error, flight: Flight): void {
    this.done = true;
    if (this.res.headersSent) {
      // Mid-body failure: the only honest signal left is a truncated response.
      this.res.destroy(err);
      this.host.finished({ status: flight.head?.status ?? 502, bytes: this.bytes }, this.outcome);
      return;
    }
    this.host.upstreamFailed(this.req, this.res, flight.key, err, this.outcome);
  }
}

/**
 * A request that needs the complete object before answering: HEAD (exact length and validator),
 * Range and conditional requests. Answers from the completed entry exactly like a hit.
 */
export class CompleteWaiter implements FlightListener {
  outcome: CacheOutcome = 'miss';
  done = false;

  constructor(
    private readonly host: WaiterHost,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    /** The form of the entry this viewer gets (a capped manifest). */
    private readonly view: (entry: CacheEntry) => CacheEntry = (e) => e,
  ) {}

  onHead(flight: Flight): void {
    if (this.outcome === 'miss' && !flight.head!.policy.store) this.outcome = 'bypass';
  }

  onData(): void {}

  onEnd(flight: Flight): void {
    this.done = true;
    let served: Served;
    if (flight.entry) {
      served = respondWithEntry(this.req, this.res, this.view(flight.entry), Date.now(), 'MISS');
    } else if (this.req.method === 'HEAD') {
      this.res.writeHead(flight.head!.status, flight.head!.list);
      this.res.end();
      served = { status: flight.head!.status, bytes: 0 };
    } else {
      served = sendProblem(this.res, 502, 'OBJECT_TOO_LARGE', 'the object is too large for ranged or conditional requests through this edge');
    }
    this.host.finished(served, this.outcome);
  }

  onError(err: Error, flight: Flight): void {
    this.done = true;
    this.host.upstreamFailed(this.req, this.res, flight.key, err, this.outcome);
  }
}
