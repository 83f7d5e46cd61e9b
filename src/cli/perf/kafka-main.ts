// `wharf perf-kafka`'s I/O: runs the load, prints progress lines and the summary on stdout
// (or, with --json, only the final JSON line), errors on stderr, and turns the first
// SIGINT/SIGTERM into an early, still reported, end.

import { runKafkaPerf } from './kafka-run.js';
import { kafkaSummaryLines } from './kafka-report.js';
import type { KafkaPerfOptions } from './kafka-options.js';

/** Runs and reports; returns the exit code (0 ok, 1 the run failed). */
export async function kafkaPerfMain(options: KafkaPerfOptions): Promise<number> {
  const out = (line: string): void => {
    process.stdout.write(line + '\n');
  };
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(1);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await runKafkaPerf(options, { progress: options.json ? undefined : out, signal: stop.signal });
    if (!options.json) for (const line of kafkaSummaryLines(result)) out(line);
    out(JSON.stringify(result));
    return 0;
  } catch (err) {
    process.stderr.write(`wharf perf-kafka: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
