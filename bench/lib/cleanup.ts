// One registry of things to undo when the benchmark ends, however it ends:
// normal return, an exception, Ctrl-C or SIGTERM. Async cleanups run first;
// each also registers a synchronous last resort (a SIGKILL) that runs from
// process.on('exit') if the async path never got to it.

type AsyncCleanup = () => Promise<void>;
type SyncCleanup = () => void;

interface Entry {
  readonly name: string;
  readonly run: AsyncCleanup;
  readonly lastResort: SyncCleanup;
  done: boolean;
}

const entries: Entry[] = [];
let installed = false;
let interrupted = false;

/** True once a signal asked the benchmark to stop: start nothing new. */
export function wasInterrupted(): boolean {
  return interrupted;
}

/** Registers a cleanup; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(name: string, run: AsyncCleanup, lastResort: SyncCleanup): () => Promise<void> {
  installSignalHandlers();
  const entry: Entry = { name, run, lastResort, done: false };
  entries.push(entry);
  return async () => {
    if (entry.done) return;
    entry.done = true;
    entries.splice(entries.indexOf(entry), 1);
    try {
      await entry.run();
    } catch (err) {
      process.stderr.write(`cleanup ${name} failed (${String(err)}); forcing\n`);
      entry.lastResort();
    }
  };
}

/** Runs every pending cleanup, newest first. */
export async function cleanupAll(): Promise<void> {
  while (entries.length > 0) {
    const entry = entries.pop() as Entry;
    if (entry.done) continue;
    entry.done = true;
    try {
      await entry.run();
    } catch (err) {
      process.stderr.write(`cleanup ${entry.name} failed (${String(err)}); forcing\n`);
      entry.lastResort();
    }
  }
}

function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const entry of entries) if (!entry.done) entry.lastResort();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      interrupted = true;
      process.stderr.write(`\n${signal}: stopping brokers...\n`);
      void cleanupAll().finally(() => process.exit(130));
    });
  }
}
