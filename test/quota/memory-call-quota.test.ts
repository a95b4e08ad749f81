import { afterEach } from 'vitest';
import type { CallQuota } from '../../src/quota/call-quota.ts';
import { MemoryCallQuota } from '../../src/quota/memory-call-quota.ts';
import { callQuotaContract } from './call-quota-contract.ts';

const made: CallQuota[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((quota) => quota.close()));
});

// One process: every caller shares the one quota.
callQuotaContract(
  'MemoryCallQuota',
  async (count, options) => {
    const quota = new MemoryCallQuota(options);
    made.push(quota);
    return Array.from({ length: count }, () => quota);
  },
  { quietMs: 50, promptMs: 50 },
);
