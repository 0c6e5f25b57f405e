/**
 * What data officers read from the audit log: search, single events, verification, checkpoints, the
 * export and subject reports. The routes (and anything else that shows the log) use this interface;
 * only the stores behind it touch the tables.
 */
import { bindDatabase, type WithoutDatabase } from '../storage/bind-database.js';
import type { Database } from '../storage/database.js';
import { readCheckpoints, type StoredCheckpoint } from './audit-checkpoints.js';
import { exportAuditLog } from './audit-export.js';
import { findEvent, searchEvents } from './audit-query.js';
import { subjectReport } from './audit-subjects.js';
import { verifyAuditLog } from './audit-verify.js';
import type { VerifyReport } from './chain-verifier.js';

export interface AuditReader {
  searchEvents: WithoutDatabase<typeof searchEvents>;
  findEvent: WithoutDatabase<typeof findEvent>;
  subjectReport: WithoutDatabase<typeof subjectReport>;
  exportLog: WithoutDatabase<typeof exportAuditLog>;
  checkpointsAfter(sequence: number): Promise<StoredCheckpoint[]>;
  verify(): Promise<VerifyReport>;
}

export function createAuditReader(database: Database): AuditReader {
  return {
    searchEvents: bindDatabase(database, searchEvents),
    findEvent: bindDatabase(database, findEvent),
    subjectReport: bindDatabase(database, subjectReport),
    exportLog: bindDatabase(database, exportAuditLog),
    async checkpointsAfter(sequence) {
      return (await readCheckpoints(database)).filter((checkpoint) => checkpoint.sequence > sequence);
    },
    /** Checks the chain, and its checkpoints against the signing keys stored in the database. */
    verify: () => verifyAuditLog(database),
  };
}
