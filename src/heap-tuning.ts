import { setFlagsFromString } from 'node:v8';

/**
 * Turns off V8's allocation-site pretenuring for the service's process, unless the command line
 * set it either way (`node --allocation-site-pretenuring dist/main.js` keeps V8's default).
 *
 * Why: V8 watches the object and array literals a function allocates, and when nearly all of one
 * site's objects survive a young-generation collection, it allocates that site's objects in the
 * old generation from then on. A gateway sees exactly that pattern whenever a few hundred clients
 * stay connected for a while, and afterwards every new connection's object from that site is
 * born old: once the connection closes, only a full collection frees it, and until then it keeps
 * alive the young objects it points to, which the scavenger copies and promotes. After 1,000
 * connections had been held and closed, each later handshake promoted 3,600 bytes instead of
 * 940, for good; with the flag off, 720 either way (docs/performance.md). The cost is the other
 * side of the same trade: a connection that does stay is copied out of the young generation once
 * more, at its second collection.
 *
 * Imported first by `main.ts`, so that the flag is set before anything else allocates. An
 * application that imports the gateway as a module sets its own V8 flags
 * (`node --no-allocation-site-pretenuring`): a library does not change them for its host.
 */
const FLAG = 'allocation-site-pretenuring';

const setOnCommandLine = process.execArgv.some(
  (arg) => arg === `--${FLAG}` || arg === `--no-${FLAG}`,
);
if (!setOnCommandLine) setFlagsFromString(`--no-${FLAG}`);
