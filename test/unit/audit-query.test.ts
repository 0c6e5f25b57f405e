import { describe, expect, it } from 'vitest';
import { readFilters, readPage, textArray, whereClause } from '../../gateway/audit/audit-query.js';
import { BadRequestError } from '../../gateway/foundation/errors.js';
import { InputReader } from '../../gateway/http/input-reader.js';

function parse(query: Record<string, unknown>) {
  const reader = new InputReader(query);
  const filters = readFilters(reader);
  const page = readPage(reader);
  reader.rejectUnknown();
  reader.done('The search');
  return { filters, page };
}

function errorsOf(query: Record<string, unknown>) {
  try {
    parse(query);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError);
    return (error as BadRequestError).extensions.errors;
  }
  throw new Error('expected a 400');
}

describe('audit event search filters', () => {
  it('reads every filter the issue lists', () => {
    const { filters, page } = parse({
      requester: 'civil-affairs/marriage-registry',
      provider: 'public-security',
      type: 'resident-id-card',
      outcome: 'granted,denied',
      matter: 'CA-0201',
      from: '2026-05-01T00:00:00+08:00',
      to: '2026-06-01T00:00:00Z',
      kind: 'lookup',
      limit: '50',
    });
    expect(filters).toMatchObject({
      requester: 'civil-affairs/marriage-registry',
      provider: 'public-security',
      certificateType: 'resident-id-card',
      outcome: ['granted', 'denied'],
      matter: 'CA-0201',
      from: '2026-04-30T16:00:00.000Z',
      to: '2026-06-01T00:00:00.000Z',
      kind: ['lookup'],
    });
    expect(page).toEqual({ order: 'desc', limit: 50, after: undefined });
  });

  it('says everything that is wrong, with a pointer for each', () => {
    expect(
      errorsOf({
        outcome: 'granted,approved',
        limit: '501',
        from: 'yesterday',
        requestor: 'x',
        provider: 'Public Security',
      }),
    ).toEqual([
      { pointer: '/provider', reason: 'must be a department code' },
      {
        pointer: '/outcome',
        reason:
          'has approved; allowed: granted, denied, not-found, failed, timed-out, invalid, released, delivered, retrying, dead-lettered',
      },
      { pointer: '/from', reason: expect.stringContaining('RFC 3339 date-time') },
      { pointer: '/limit', reason: 'must be a whole number from 1 to 500' },
      { pointer: '/requestor', reason: 'is not a known parameter' },
    ]);
  });

  it('refuses an empty time range and a parameter given twice', () => {
    expect(errorsOf({ from: '2026-05-02T00:00:00Z', to: '2026-05-01T00:00:00Z' })).toEqual([
      { pointer: '/to', reason: 'must be later than from' },
    ]);
    expect(errorsOf({ matter: ['A', 'B'] })).toEqual([
      { pointer: '/matter', reason: 'is given more than once' },
    ]);
  });

  it('refuses a cursor it did not issue', () => {
    expect(errorsOf({ cursor: 'bm90LWEtY3Vyc29y' })).toEqual([
      { pointer: '/cursor', reason: 'is not a cursor this gateway issued' },
    ]);
  });

  it('builds one parameterised condition per filter', () => {
    const params: unknown[] = [];
    const sql = whereClause(
      { requester: 'civil-affairs', outcome: ['granted'], subjectHashes: ['ab', 'cd'] },
      params,
    );
    expect(sql).toBe(
      'requester_department = $1 AND outcome = ANY($2::text[]) AND subject_hashes && $3::text[]',
    );
    expect(params).toEqual(['civil-affairs', '{"granted"}', '{"ab","cd"}']);
    expect(textArray(['a"b', 'c\\d'])).toBe('{"a\\"b","c\\\\d"}');
  });
});
