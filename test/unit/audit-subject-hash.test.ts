import { describe, expect, it } from 'vitest';
import {
  createSubjectHasher,
  hmacKeyFingerprint,
  normalisedIdentifiers,
} from '../../gateway/audit/subject-hash.js';

const key = 'k'.repeat(32);

describe('subject identifier hashing', () => {
  it('normalises type:value per identifier (NFKC, no whitespace, upper case)', () => {
    expect(normalisedIdentifiers({ residentIdNumber: ' １１０１０５ 19491231002x ' })).toEqual([
      'residentIdNumber:11010519491231002X',
    ]);
  });

  it('takes every identifier of a subject, nested ones under their own name', () => {
    expect(
      normalisedIdentifiers({
        partyA: { residentIdNumber: '11010519491231002X' },
        partyB: { residentIdNumber: '110105194912310037' },
        registrationNumber: 12345,
      }),
    ).toEqual([
      'registrationNumber:12345',
      'residentIdNumber:11010519491231002X',
      'residentIdNumber:110105194912310037',
    ]);
  });

  it('hashes the same ID number the same whatever certificate it was looked up for', () => {
    const hash = createSubjectHasher(key);
    const idCard = hash({ residentIdNumber: '11010519491231002X' });
    const marriage = hash({
      partyA: { residentIdNumber: '11010519491231002x' },
      partyB: { residentIdNumber: '1' },
    });
    expect(idCard).toHaveLength(1);
    expect(marriage).toContain(idCard[0]);
    expect(idCard[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('depends on the key, and never contains the value', () => {
    const subject = { residentIdNumber: '11010519491231002X' };
    const a = createSubjectHasher(key)(subject);
    const b = createSubjectHasher('z'.repeat(32))(subject);
    expect(a).not.toEqual(b);
    expect(a.join()).not.toContain('11010519491231002X');
    expect(hmacKeyFingerprint(key)).not.toEqual(hmacKeyFingerprint('z'.repeat(32)));
  });

  it('refuses a short key', () => {
    expect(() => createSubjectHasher('short')).toThrow(/at least 32 bytes/);
  });

  it('keeps the same identifier type distinct from another with the same value', () => {
    const hash = createSubjectHasher(key);
    expect(hash({ residentIdNumber: '123' })).not.toEqual(hash({ passportNumber: '123' }));
  });
});
