// net.fetch (DESIGN §4): an HTTP GET to an origin granted by name.
//
//   net.fetch(url) -> [status, b0, b1, ...]
//
// The grant is an origin, matched exactly (`net.fetch:http://127.0.0.1:8080`
// reaches that scheme, host and port only, any path below it). The URL is
// checked against every scope on the caller's chain before anything is sent.
// A URL with credentials is refused. Redirects are followed only within the
// same origin (at most REDIRECTS_MAX); one leaving it is refused. The body is
// read as a stream and refused as soon as it would exceed what the caller can
// receive (CapContext.maxWords, the status word included), before it is
// allocated. The whole exchange has a deadline (NET_TIMEOUT_MS by default).
// The call is async (Session.runAsync); its result is recorded in the trace
// like any other, so replay and audit never fetch again.

import type { CapContext, CapHandler, CapValue } from "./registry.js";
import { codePointsToText } from "./registry.js";
import { BUILTIN_SIGNATURES } from "./signatures.js";

/** Default deadline of one net.fetch call (headers and body), in milliseconds. */
export const NET_TIMEOUT_MS = 30_000;
/** Same-origin redirects followed per call. */
export const REDIRECTS_MAX = 5;
/** Longest URL a call may pass, in code points. */
export const URL_MAX = 8192;

export interface NetOptions {
  /** Deadline of one call in milliseconds. Default NET_TIMEOUT_MS. */
  timeout?: number;
}

/** The schemes net.fetch speaks. */
const SCHEMES: ReadonlySet<string> = new Set(["http:", "https:"]);

/**
 * The canonical origin a grant names (`http://127.0.0.1:8080`), or an Error
 * saying why `text` is not one: http or https, a host, an optional port, no
 * credentials, no path beyond "/", no query or fragment.
 */
export function originOf(text: string): string | Error {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return new Error("is not a URL (like http://127.0.0.1:8080)");
  }
  if (!SCHEMES.has(u.protocol)) return new Error("an origin is http:// or https://");
  if (u.username !== "" || u.password !== "") return new Error("an origin carries no credentials");
  if (u.pathname !== "/" || u.search !== "" || u.hash !== "" || /[?#]$/.test(text)) return new Error("an origin has no path, query or fragment");
  return u.origin;
}

/** The URL a call passes, parsed and checked against the caller's chain of grants; throws why not. */
function checkedUrl(text: string, ctx: CapContext): URL {
  const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error(`'${shown}' is not a URL`);
  }
  if (!SCHEMES.has(u.protocol)) throw new Error(`'${shown}': only http and https`);
  if (u.username !== "" || u.password !== "") throw new Error(`'${shown}': a URL with credentials is refused`);
  // Exactly the origin, at every level of the chain (an unscoped grant covers none).
  if (!ctx.chain.every((level) => level.includes(u.origin))) throw new Error(`the origin ${u.origin} is not granted`);
  return u;
}

/** Reads a response body as bytes, refusing it once it exceeds `max` bytes (before holding more). */
async function boundedBody(res: Response, max: number): Promise<Int32Array> {
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`a body of ${declared} bytes exceeds memory headroom (${max} words)`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        await reader.cancel().catch(() => undefined);
        throw new Error(`a body of more than ${max} bytes exceeds memory headroom (${max} words)`);
      }
      chunks.push(value);
    }
  }
  const out = new Int32Array(total + 1);
  let k = 1;
  for (const c of chunks) for (let i = 0; i < c.length; i++) out[k++] = c[i];
  return out;
}

/** One GET, following only same-origin redirects. */
async function fetchWithin(url: URL, ctx: CapContext, timeout: number): Promise<Int32Array> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeout);
  try {
    let at = url;
    for (let hop = 0; ; hop++) {
      const res = await fetch(at, { method: "GET", redirect: "manual", signal: abort.signal });
      if (res.status >= 300 && res.status < 400 && res.headers.has("location")) {
        await res.body?.cancel().catch(() => undefined);
        const next = new URL(res.headers.get("location") as string, at);
        if (next.origin !== url.origin) throw new Error(`a redirect to ${next.origin} leaves the origin ${url.origin}: refused`);
        if (hop >= REDIRECTS_MAX) throw new Error(`more than ${REDIRECTS_MAX} redirects`);
        at = next;
        continue;
      }
      const body = await boundedBody(res, ctx.maxWords - 1);
      body[0] = res.status;
      return body;
    }
  } catch (e) {
    if (abort.signal.aborted) throw new Error(`no complete answer from ${url.origin} within ${timeout} ms`);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    if (e instanceof TypeError && cause) throw new Error(`cannot fetch from ${url.origin} (${cause.code ?? cause.message ?? "network error"})`);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** The net.fetch handler. */
export function netHandlers(opts: NetOptions = {}): Record<string, CapHandler> {
  const timeout = opts.timeout ?? NET_TIMEOUT_MS;
  return {
    "net.fetch": {
      sig: BUILTIN_SIGNATURES["net.fetch"],
      call(args: CapValue[], ctx: CapContext): Promise<CapValue> {
        const raw = args[0] as Int32Array;
        if (raw.length > URL_MAX) throw new Error(`a URL of ${raw.length} characters is longer than ${URL_MAX}`);
        const url = checkedUrl(codePointsToText(raw), ctx);
        if (ctx.maxWords < 1) throw new Error(`no memory headroom for the status word`);
        return fetchWithin(url, ctx, timeout);
      },
    },
  };
}
