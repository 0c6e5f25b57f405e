import { describe, expect, it } from 'vitest';
import { createMasker, describeMaskRule, maskValue } from '../../gateway/policy/masking.js';

describe('masking', () => {
  it('shows a resident ID number partly: first 6 and last 4', () => {
    expect(maskValue('11010519491231002X', { keepStart: 6, keepEnd: 4 })).toBe('110105********002X');
  });

  it('counts Chinese characters as characters', () => {
    expect(maskValue('张三丰', { keepStart: 1, keepEnd: 0 })).toBe('张**');
    expect(maskValue('欧阳娜娜', { keepStart: 1, keepEnd: 1, maskChar: '某' })).toBe('欧某某娜');
  });

  it('masks a value too short to hide anything entirely', () => {
    expect(maskValue('1234', { keepStart: 2, keepEnd: 2 })).toBe('****');
    expect(maskValue('', { keepStart: 1, keepEnd: 1 })).toBe('');
  });

  it('masks paths into nested objects and every array item, on a copy', () => {
    const record = {
      certificateNumber: 'J110105-2020-000123',
      parties: [
        { name: '王小明', residentIdNumber: '11010519900307001X' },
        { name: '李小红', residentIdNumber: '110105199204150028' },
      ],
      applicant: { residentIdNumber: '110105199204150028', phone: 13800138000 },
    };
    const mask = createMasker(
      new Map([
        ['parties.*.residentIdNumber', { keepStart: 6, keepEnd: 4 }],
        ['applicant.phone', { keepStart: 3, keepEnd: 4 }],
        ['missing.field', { keepStart: 1, keepEnd: 1 }],
      ]),
    );
    expect(mask(record)).toEqual({
      certificateNumber: 'J110105-2020-000123',
      parties: [
        { name: '王小明', residentIdNumber: '110105********001X' },
        { name: '李小红', residentIdNumber: '110105********0028' },
      ],
      applicant: { residentIdNumber: '110105199204150028', phone: '138****8000' },
    });
    expect(record.parties[0]?.residentIdNumber).toBe('11010519900307001X');
  });

  it('fails closed on a value it cannot mask: the field is removed', () => {
    const mask = createMasker(new Map([['address', { keepStart: 2, keepEnd: 0 }]]));
    expect(mask({ address: { city: '北京' }, name: 'x' })).toEqual({ name: 'x' });
    expect(mask({ address: null })).toEqual({ address: null });
  });

  it('describes a rule for people', () => {
    expect(describeMaskRule({ keepStart: 6, keepEnd: 4 })).toBe(
      'shows only the first 6 and last 4 characters',
    );
    expect(describeMaskRule({ keepStart: 0, keepEnd: 0 })).toBe('fully masked');
  });
});
