// Installs Debian's rabbitmq-server when it is missing, without letting the
// package start its service on the standard ports: a policy-rc.d that denies
// every service start (exit 101, invoke-rc.d's "forbidden") is in place for
// the install only, and any service that started anyway is stopped and
// disabled afterwards.

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, unlinkSync, writeFileSync } from 'node:fs';

export const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const POLICY_MARKER = '# written by wharf bench/compare for the rabbitmq-server install; removed after it';

export function rabbitmqInstalled(): boolean {
  return existsSync(RABBITMQ_SERVER);
}

function run(cmd: string, args: string[], log: (line: string) => void): number {
  const sudo = process.getuid?.() !== 0;
  const argv = sudo ? ['-n', cmd, ...args] : args;
  log(`$ ${sudo ? 'sudo -n ' : ''}${cmd} ${args.join(' ')}`);
  const r = spawnSync(sudo ? 'sudo' : cmd, argv, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.status ?? 1;
}

/** The installed rabbitmq-server package's version (dpkg), or 'unknown'. */
export function rabbitmqVersion(): string {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'rabbitmq-server'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

/** True when an epmd answers on its standard port. */
function epmdRunning(): boolean {
  return hasCommand('epmd') && spawnSync('epmd', ['-names'], { stdio: 'ignore', env: { ...process.env, ERL_EPMD_PORT: '4369' } }).status === 0;
}

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Installs rabbitmq-server if missing; throws if that fails. */
export function ensureRabbitmqInstalled(log: (line: string) => void): void {
  if (rabbitmqInstalled()) return;
  log('rabbitmq-server is not installed: installing it from Debian (services kept stopped)');
  const ownPolicy = !existsSync(POLICY_RC_D);
  if (ownPolicy) {
    writeFileSync(POLICY_RC_D, `#!/bin/sh\n${POLICY_MARKER}\nexit 101\n`);
    chmodSync(POLICY_RC_D, 0o755);
  }
  const epmdBefore = epmdRunning();
  try {
    let status = run('apt-get', ['install', '-y', '--no-install-recommends', 'rabbitmq-server'], log);
    if (status !== 0) {
      run('apt-get', ['update'], log);
      status = run('apt-get', ['install', '-y', '--no-install-recommends', 'rabbitmq-server'], log);
    }
    if (status !== 0) throw new Error(`apt-get install rabbitmq-server failed (exit ${status})`);
  } finally {
    if (ownPolicy) unlinkSync(POLICY_RC_D);
    stopSystemService(log);
    // The package's scripts start an epmd on the standard port 4369 as a side effect.
    if (!epmdBefore && epmdRunning()) run('epmd', ['-kill'], log);
  }
  if (!rabbitmqInstalled()) throw new Error(`rabbitmq-server installed but ${RABBITMQ_SERVER} is missing`);
}

/** Stops and disables the packaged service (and its epmd) in case anything started it. */
function stopSystemService(log: (line: string) => void): void {
  const systemd = existsSync('/run/systemd/system');
  if (systemd && hasCommand('systemctl')) {
    run('systemctl', ['disable', '--now', 'rabbitmq-server.service'], log);
    run('systemctl', ['disable', '--now', 'epmd.socket', 'epmd.service'], log);
  } else if (hasCommand('service')) {
    run('service', ['rabbitmq-server', 'stop'], log);
  }
}
