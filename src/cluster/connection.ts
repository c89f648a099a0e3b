// Connections to the Redis server that holds the queue, the jobs and their
// images (spec/distributed.md). A worker waits for Redis forever (commands
// queue up while it reconnects, as BullMQ requires of workers:
// maxRetriesPerRequest null); a one-shot command (submit, status, fetch,
// cancel) gives up after a few tries with one clear line.

import { Redis, type RedisOptions } from "ioredis";
import { RarError } from "../vm/errors.js";

/** How long a one-shot command keeps trying to reach Redis before it gives up. */
const ONE_SHOT_TRIES = 10;
const ONE_SHOT_DELAY_MS = 200;

/** The URL as given, checked: redis://[user:password@]host[:port][/db] (or rediss:// for TLS). */
export function checkRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RarError("usage.redis_url", `'${url}' is not a URL (expected redis://HOST:PORT)`, "--redis");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:")
    throw new RarError("usage.redis_url", `'${url}' is not a redis:// or rediss:// URL`, "--redis");
  return url;
}

/** Where a URL points, without its password (for messages). */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    u.username = "";
    return u.toString();
  } catch {
    return url;
  }
}

/** A connection for a worker: reconnects forever, and its commands wait for the reconnection. */
export function workerConnection(url: string, onError: (e: Error) => void): Redis {
  const options: RedisOptions = {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  };
  const redis = new Redis(checkRedisUrl(url), options);
  redis.on("error", onError);
  return redis;
}

/** A connection for one command: connected before it is returned, or a RarError("io") naming the server. */
export async function commandConnection(url: string): Promise<Redis> {
  const redis = new Redis(checkRedisUrl(url), {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 5000,
    retryStrategy: (times) => (times > ONE_SHOT_TRIES ? null : ONE_SHOT_DELAY_MS),
  });
  let last = "";
  redis.on("error", (e: Error) => (last = e.message));
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw new RarError("io.redis", `cannot reach Redis at ${shownUrl(url)}: ${last || (e as Error).message}`, "--redis");
  }
  return redis;
}

/** Closes a command's connection (its pending replies first). */
export async function closeConnection(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
