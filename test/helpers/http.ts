// A local HTTP server for net.fetch tests: on 127.0.0.1, a free port, a few
// fixed routes, including the hostile ones (a redirect away, a server that
// never answers, a body without end).

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface TestServer {
  readonly origin: string;
  readonly port: number;
  /** Requests served, by path, in order. */
  readonly hits: string[];
  close(): Promise<void>;
}

/** Starts the server; `other` is an origin the /away route redirects to. */
export async function startServer(other = "http://127.0.0.1:1"): Promise<TestServer> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "/";
    hits.push(path);
    switch (path) {
      case "/hello":
        res.writeHead(200, { "content-type": "text/plain" }).end("hello");
        return;
      case "/utf8":
        res.writeHead(200).end("é€");
        return;
      case "/missing":
        res.writeHead(404).end("no");
        return;
      case "/again":
        res.writeHead(302, { location: "/hello" }).end();
        return;
      case "/loop":
        res.writeHead(302, { location: "/loop" }).end();
        return;
      case "/away":
        res.writeHead(302, { location: `${other}/hello` }).end();
        return;
      case "/big":
        res.writeHead(200, { "content-length": String(1 << 20) });
        res.end(Buffer.alloc(1 << 20, 65));
        return;
      case "/endless": {
        // Chunked, no length: refused by counting, not by a header.
        res.writeHead(200);
        const chunk = Buffer.alloc(16384, 66);
        const more = (): void => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once("drain", more);
        };
        res.on("close", () => res.removeAllListeners("drain"));
        more();
        return;
      }
      case "/hang":
        return; // never answers
      default:
        res.writeHead(200).end(path);
    }
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    hits,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
