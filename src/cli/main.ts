#!/usr/bin/env node
// The `wharf` command. Parsing lives in config.ts (pure, tested); this file does
// the I/O: exit codes, the startup line on stdout, signals.
//
// Exit codes: 0 ok, 1 runtime failure (e.g. port in use, a perf run the broker broke off), 2 bad command line or config.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../util/logger.js';
import { listeningLine, parseCommandLine, UsageError, type Command, type ServeOptions } from './config.js';

async function main(argv: readonly string[]): Promise<void> {
  let cmd: Command;
  try {
    cmd = parseCommandLine(argv, process.env, (path) => readFileSync(path, 'utf8'));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`wharf: ${err.message}\n`);
    process.exit(2);
  }
  switch (cmd.command) {
    case 'help':
      process.stdout.write(cmd.text);
      return;
    case 'version':
      process.stdout.write(`${readVersion()}\n`);
      return;
    case 'serve':
      return serve(cmd.options);
    case 'perf': {
      // Loaded here so that serve does not pay for the client.
      const { perfMain } = await import('./perf/main.js');
      process.exitCode = await perfMain(cmd.options);
      return;
    }
    case 'perf-kafka': {
      const { kafkaPerfMain } = await import('./perf/kafka-main.js');
      process.exitCode = await kafkaPerfMain(cmd.options);
      return;
    }
    case 'admin': {
      const { runAdmin } = await import('./admin/run.js');
      process.exitCode = await runAdmin(cmd.verb, cmd.args, { env: process.env });
      return;
    }
    case 'definitions': {
      const { runDefinitions } = await import('./definitions.js');
      process.exitCode = await runDefinitions(cmd.argv, {
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
        stdin: readStdin,
        env: process.env,
      }).catch((err: unknown) => {
        if (err instanceof UsageError) {
          process.stderr.write(`wharf: ${err.message}\n`);
          return 2;
        }
        // The data dir is locked by a running broker, unreadable, of a newer format...
        process.stderr.write(`wharf: ${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
      });
      return;
    }
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The version in the package.json above this file (dist/src/cli or src/cli under tsx). */
function readVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'wharf' && pkg.version) return pkg.version;
    } catch {
      // no package.json here; keep climbing
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

async function serve(options: ServeOptions): Promise<void> {
  const logger = createLogger(options.logLevel, undefined, options.logFormat);
  // Loaded here so that --help and --version do not pay for the broker.
  const { startBroker } = await import('../index.js');
  // Keys given on the command line work from anywhere; the default test:test only from loopback (as guest).
  const { awsCredentials: keys, ...rest } = options;
  const awsCredentials = keys.length > 0 ? keys.map((c) => ({ ...c, loopbackOnly: false })) : undefined;
  const started = startBroker({ ...rest, logger, ...(awsCredentials ? { awsCredentials } : {}) });

  // First SIGTERM/SIGINT: graceful close (clients get connection.close 320, the
  // log is synced), then exit 0. A second one: give up waiting, exit 1.
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn('second signal, exiting without waiting for shutdown', { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info('shutting down', { signal });
    started
      .then((handle) => handle.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error('shutdown failed', { err });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP: new TLS certificate files for new connections (open ones keep theirs),
  // so a renewed certificate needs no restart; a bad one is logged and ignored.
  // Registered now so that an early SIGHUP does not kill the process (its default).
  process.on('SIGHUP', () => {
    if (options.tls === undefined) logger.info('SIGHUP ignored: no TLS configured');
    else void started.then((handle) => handle.reloadTls(), () => undefined);
  });

  let handle;
  try {
    handle = await started;
  } catch (err) {
    if (stopping) return; // onSignal's chain reports it and exits
    logger.error('failed to start', { err });
    process.exit(1);
  }
  if (stopping) return;
  process.stdout.write(listeningLine(handle) + '\n');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`wharf: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
