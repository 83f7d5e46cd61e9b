// A private etcd for the cluster suites: Debian's /usr/bin/etcd on free loopback
// ports with a temporary data dir (src/cluster/etcd-process.ts), killed and removed
// by stop(). Never a shared or system etcd.

import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdProcess, type EtcdStartOptions } from '../../src/cluster/etcd-process.js';
import { createLogger, type Logger } from '../../src/util/logger.js';

export type { EtcdProcess };

export function startTestEtcd(options: EtcdStartOptions = {}): Promise<EtcdProcess> {
  return startEtcd(options);
}

/** A client of our own, for what a test does behind the nodes' backs (revoking a lease as etcd's expiry would). */
export function etcdClient(etcd: EtcdProcess): Etcd3 {
  return new Etcd3({ hosts: [etcd.endpoint] });
}

/** Quiet unless WHARF_TEST_LOG=debug|info is set. */
export const quietLogger: Logger = createLogger((process.env.WHARF_TEST_LOG as 'debug' | 'info' | undefined) ?? 'silent');

/** The shortest lease etcd grants with its default heartbeat (100 ms): 2 s. Tests use it so a dead node goes fast. */
export const TEST_LEASE_TTL_SEC = 2;
