// Set up before every test file (vitest.config.ts): after each test, one
// turn of the event loop. Vitest runs a file's tests back to back, and a
// synchronous test gives the loop no turn, so a file of them (the property
// suites, test/recursion) can hold its worker for over a minute on a loaded
// machine; the answers to vitest's own messages then wait unread, and their
// 60-second timeout ("Timeout calling onTaskUpdate") fails the whole run.

import { afterEach } from "vitest";

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
