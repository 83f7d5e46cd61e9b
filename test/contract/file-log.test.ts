import * as path from 'node:path';
import { openFileLog, silentLogger } from '../../src/store/index.js';
import { runLogContract } from './log-contract.js';

// The log lives in <dir>/messages so its default quarantine (<dir>/quarantine) stays inside the temp dir.
runLogContract('file log', (dir, tuning) =>
  openFileLog({ dir: path.join(dir, 'messages'), fsync: 'batch', logger: silentLogger, ...tuning }),
);
