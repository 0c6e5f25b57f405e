import { describe, expect, it } from 'vitest';
import {
  electronicLicenceCheckChar,
  electronicLicenceId,
  iso7064Mod3736CheckChar,
  isValidElectronicLicenceId,
  isValidResidentIdNumber,
  isValidUnifiedSocialCreditCode,
  residentIdCheckChar,
  residentIdNumberProblem,
  unifiedSocialCreditCodeProblem,
  usccCheckChar,
} from '../../gateway/catalog/identifiers.js';

/** A number with the right check character for these 17 digits. */
const residentId = (first17: string) => first17 + residentIdCheckChar(first17);

describe('resident ID number (GB 11643-1999)', () => {
  it('accepts the example of the standard, whose check character is X', () => {
    expect(residentIdCheckChar('11010519491231002')).toBe('X');
    expect(isValidResidentIdNumber('11010519491231002X')).toBe(true);
  });

  it('computes every check character of the cycle 1 0 X 9 8 7 6 5 4 3 2', () => {
    const checks = new Set<string>();
    for (let i = 0; i < 100; i++)
      checks.add(residentIdCheckChar(`350102198501011${String(i).padStart(2, '0')}`));
    expect([...checks].sort().join('')).toBe('0123456789X');
  });

  it('rejects a wrong check character, saying so', () => {
    expect(isValidResidentIdNumber('110105194912310021')).toBe(false);
    expect(residentIdNumberProblem('110105194912310021')).toBe('the check character does not match');
  });

  it('rejects a lower-case x: one number must have one spelling for lookups and audit hashes', () => {
    expect(isValidResidentIdNumber('11010519491231002x')).toBe(false);
    expect(residentIdNumberProblem('11010519491231002x')).toMatch(/upper-case/);
  });

  it('rejects wrong lengths and non-digits', () => {
    for (const value of [
      '',
      '11010519491231002',
      '11010519491231002X1',
      '350102850101123',
      '1101051949123100AX',
    ]) {
      expect(isValidResidentIdNumber(value), value).toBe(false);
    }
  });

  it('accepts 29 February only in leap years', () => {
    expect(isValidResidentIdNumber(residentId('35010420000229055'))).toBe(true);
    expect(isValidResidentIdNumber(residentId('35010419960229055'))).toBe(true);
    expect(isValidResidentIdNumber(residentId('35010420230229055'))).toBe(false);
    expect(isValidResidentIdNumber(residentId('35010419000229055'))).toBe(false); // century, not divisible by 400
  });

  it('rejects impossible birth dates even when the check character fits them', () => {
    for (const date of ['19990230', '19851301', '19850001', '19850100', '19850431', '18000101']) {
      const value = residentId(`350102${date}123`);
      expect(isValidResidentIdNumber(value), date).toBe(false);
      expect(residentIdNumberProblem(value)).toMatch(/birth date/);
    }
  });

  it('rejects a birth date after today in China', () => {
    const today = new Date('2026-11-27T20:00:00Z'); // already 28 November in Beijing
    expect(isValidResidentIdNumber(residentId('35010220261128001'), today)).toBe(true);
    expect(isValidResidentIdNumber(residentId('35010220261129001'), today)).toBe(false);
  });

  it('refuses to compute a check character for anything but 17 digits', () => {
    expect(() => residentIdCheckChar('1101051949123100')).toThrow(RangeError);
    expect(() => residentIdCheckChar('1101051949123100A')).toThrow(RangeError);
  });
});

describe('unified social credit code (GB 32100-2015)', () => {
  it('accepts the commonly cited example', () => {
    expect(usccCheckChar('91350100M000100Y4')).toBe('3');
    expect(isValidUnifiedSocialCreditCode('91350100M000100Y43')).toBe(true);
  });

  it('rejects every other check character', () => {
    const alphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY';
    const wrong = [...alphabet].filter((char) => char !== '3').map((char) => `91350100M000100Y4${char}`);
    expect(wrong.filter(isValidUnifiedSocialCreditCode)).toEqual([]);
    expect(unifiedSocialCreditCodeProblem('91350100M000100Y44')).toBe('the check character does not match');
  });

  it('uses check value 0 when the weighted sum is a multiple of 31', () => {
    // (31 - 0) mod 31 = 0, not 31: the alphabet has no 32nd symbol.
    let found = '';
    for (let i = 0; i < 31 && !found; i++) {
      const first17 = `9135010000000000${'0123456789ABCDEFGHJKLMNPQRTUWXY'.charAt(i)}`;
      if (usccCheckChar(first17) === '0') found = first17;
    }
    expect(found).not.toBe('');
    expect(isValidUnifiedSocialCreditCode(`${found}0`)).toBe(true);
  });

  it('rejects the letters I, O, S, V and Z, which the code never uses', () => {
    for (const letter of ['I', 'O', 'S', 'V', 'Z']) {
      const value = `91350100M000100${letter}43`;
      expect(isValidUnifiedSocialCreditCode(value), letter).toBe(false);
      expect(unifiedSocialCreditCodeProblem(value)).toMatch(/except I, O, S, V/);
    }
    expect(() => usccCheckChar('91350100M000100O4')).toThrow(RangeError);
  });

  it('rejects lower case, wrong lengths and letters in the division code', () => {
    expect(unifiedSocialCreditCodeProblem('91350100m000100y43')).toMatch(/upper-case/);
    expect(isValidUnifiedSocialCreditCode('91350100M000100Y4')).toBe(false);
    expect(isValidUnifiedSocialCreditCode('91350100M000100Y431')).toBe(false);
    const letterInDivision = `9135A100M000100Y4`;
    expect(isValidUnifiedSocialCreditCode(letterInDivision + usccCheckChar(letterInDivision))).toBe(false);
  });
});

describe('ISO/IEC 7064 MOD 37,36', () => {
  it('matches published check characters', () => {
    expect(iso7064Mod3736CheckChar('A12425GABC1234002')).toBe('M');
    expect(iso7064Mod3736CheckChar('123AB')).toBe('X');
  });

  it('never needs a supplementary character: the check is one of 0-9, A-Z', () => {
    const checks = new Set<string>();
    for (let i = 0; i < 36 * 36; i++)
      checks.add(iso7064Mod3736CheckChar(i.toString(36).toUpperCase().padStart(2, '0')));
    expect([...checks].every((char) => /^[0-9A-Z]$/.test(char))).toBe(true);
    expect(checks.size).toBe(36);
  });

  it('detects every single substitution and adjacent transposition of a sample string', () => {
    const data = 'A12425GABC1234002';
    const check = iso7064Mod3736CheckChar(data);
    const symbols = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    for (let i = 0; i < data.length; i++) {
      for (const symbol of symbols) {
        if (symbol === data[i]) continue;
        const changed = data.slice(0, i) + symbol + data.slice(i + 1);
        expect(iso7064Mod3736CheckChar(changed), changed).not.toBe(check);
      }
      if (i + 1 < data.length && data[i] !== data[i + 1]) {
        const swapped = data.slice(0, i) + data[i + 1] + data[i] + data.slice(i + 2);
        expect(iso7064Mod3736CheckChar(swapped), swapped).not.toBe(check);
      }
    }
  });

  it('refuses characters outside 0-9 and A-Z', () => {
    expect(() => iso7064Mod3736CheckChar('abc')).toThrow(RangeError);
  });
});

describe('electronic licence identifier (GB/T 36904-2018)', () => {
  const type = '11100000000366061D001';
  const issuer = '113501020000930593';

  it('checks over type, issuer, serial and version written together', () => {
    const id = electronicLicenceId(type, issuer, '35010220150312123', '001');
    const check = electronicLicenceCheckChar(type, issuer, '35010220150312123', '001');
    expect(id).toBe(`1.2.156.3005.2.${type}.${issuer}.35010220150312123.001.${check}`);
    expect(check).toBe(iso7064Mod3736CheckChar(`${type}${issuer}35010220150312123001`));
    expect(isValidElectronicLicenceId(id)).toBe(true);
  });

  it('rejects a wrong check character, a wrong prefix and a missing field', () => {
    const id = electronicLicenceId(type, issuer, '3501002012000871', '001');
    const wrongCheck = id.slice(0, -1) + (id.endsWith('A') ? 'B' : 'A');
    expect(isValidElectronicLicenceId(wrongCheck)).toBe(false);
    expect(isValidElectronicLicenceId(id.replace('1.2.156.3005.2.', '1.2.156.3005.1.'))).toBe(false);
    expect(isValidElectronicLicenceId(id.replace('.001.', '.'))).toBe(false);
    expect(isValidElectronicLicenceId(id.toLowerCase())).toBe(false);
  });

  it('accepts an issuer given as a 6-digit administrative division code, as a city platform issues', () => {
    const id = electronicLicenceId(type, '350100', '3501002019004561', '001');
    expect(id).toBe('1.2.156.3005.2.11100000000366061D001.350100.3501002019004561.001.A');
    expect(isValidElectronicLicenceId(id)).toBe(true);
    expect(isValidElectronicLicenceId(id.replace('.350100.', '.350101.'))).toBe(false);
    for (const issuer of ['990100', '35010']) {
      const other = electronicLicenceId(type, issuer, '3501002019004561', '001');
      expect(isValidElectronicLicenceId(other), issuer).toBe(false);
    }
  });
});
