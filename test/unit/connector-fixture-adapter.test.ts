import { describe, expect, it } from 'vitest';
import { createFixtureHandler } from '../../connectors/adapters/fixture-adapter.js';
import type { LookupRequestEnvelope } from '../../gateway/protocol/envelopes.js';

function request(subject: Record<string, unknown>): LookupRequestEnvelope {
  return {
    version: 1,
    lookupId: '0b6f0f5e-6c3f-4f57-9a36-4d0d2b0d7b61',
    certificateType: 'marriage-certificate',
    schemaVersion: 1,
    subject,
    purpose: { matter: 'CA-0001', caseRef: 'case-1', officer: 'officer-1' },
    requester: { department: 'natural-resources' },
    deadline: new Date(Date.now() + 5000).toISOString(),
  } as LookupRequestEnvelope;
}

const signal = new AbortController().signal;
const marriage = {
  subject: {
    certificateNumber: 'J350102-2019-004512',
    idNumber: ['350102199003077715', '35010219920511002X'],
  },
  record: { certificateNumber: 'J350102-2019-004512', registeredOn: '2019-05-20' },
};

describe('fixture adapter', () => {
  const handler = createFixtureHandler({ records: [marriage], schemaVersion: 1 });

  it('finds a record by any identifier it holds, including either value of a list', async () => {
    expect(await handler.lookup(request({ certificateNumber: 'J350102-2019-004512' }), signal)).toEqual(
      marriage.record,
    );
    expect(await handler.lookup(request({ idNumber: '35010219920511002X' }), signal)).toEqual(
      marriage.record,
    );
    expect(
      await handler.lookup(request({ idNumber: 'nobody', certificateNumber: 'J350102-2019-004512' }), signal),
    ).toEqual(marriage.record);
  });

  it('answers not found for an unknown subject or an identifier it does not hold', async () => {
    expect(await handler.lookup(request({ idNumber: '110101199001011234' }), signal)).toBeUndefined();
    expect(await handler.lookup(request({ passportNumber: 'J350102-2019-004512' }), signal)).toBeUndefined();
    expect(await handler.lookup(request({}), signal)).toBeUndefined();
  });

  it('hands out copies, so a caller cannot change the fixture', async () => {
    const first = (await handler.lookup(request({ idNumber: '350102199003077715' }), signal)) as Record<
      string,
      unknown
    >;
    first.registeredOn = 'changed';
    expect(await handler.lookup(request({ idNumber: '350102199003077715' }), signal)).toEqual(
      marriage.record,
    );
  });

  it('rejects entries without subject and record objects', () => {
    expect(() =>
      createFixtureHandler({ records: [{ subject: {}, record: [] as never }], schemaVersion: 1 }),
    ).toThrow(/fixture entry 0/);
  });
});
