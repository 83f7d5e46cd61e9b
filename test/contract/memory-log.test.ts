import { MemoryDisk, reopenMemoryLog, silentLogger } from '../../src/store/index.js';
import { runLogContract } from './log-contract.js';

// A directory stands for a disk, so "reopen the same directory" reopens the same memory.
const disks = new Map<string, MemoryDisk>();

runLogContract('memory log', (dir, tuning) => {
  let disk = disks.get(dir);
  if (!disk) disks.set(dir, (disk = new MemoryDisk()));
  return reopenMemoryLog(disk, { logger: silentLogger, ...tuning });
});
