/**
 * Every identifier format against published identifiers: each one verifies as published, and with any
 * one character changed it is refused. Plus: the JSON Schema (schemas/identifiers.schema.json) and the
 * TypeScript checks (gateway/catalog/identifiers.ts) give the same verdict on the same values.
 *
 * Where the values come from:
 * - Resident ID numbers: the example of GB 11643-1999 itself (11010519491231002X), and the sample input
 *   of PAT Basic 1031 "查验身份证" (patest.cn; copied on cnblogs.com), which marks two numbers valid
 *   and three refused.
 * - Unified social credit codes: the commonly cited example 91350100M000100Y43, and the codes of real
 *   government agencies as they stand inside published electronic licence identifiers below.
 * - Electronic licence identifiers (GB/T 36904-2018), as published in code and file names on GitHub:
 *   Hefei's e-licence platform answering a real-estate registry (yanFranklin/bdc20230104,
 *   createHefeiDzzzDTO: issuer 340100, Hefei's administrative division code, not a credit code);
 *   Shandong and Hunan construction-certificate systems (issuers 11370800MB28559184, 济宁市行政审批服务
 *   局, and 11430000006122244L); a Zhejiang investment-project file name (tzxm.zjzwfw.gov.cn, issuer
 *   11330105002500287C); a Beijing construction-registration system (11110000000021135M); a Jilin
 *   catalogue (11220000013544541J). Each verifies with ISO/IEC 7064 MOD 37,36.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AnySchemaObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  ELECTRONIC_LICENCE_ID_LENGTH,
  electronicLicenceId,
  electronicLicenceIdProblem,
  isValidElectronicLicenceId,
  isValidResidentIdNumber,
  isValidUnifiedSocialCreditCode,
  residentIdNumberProblem,
  unifiedSocialCreditCodeProblem,
} from '../../gateway/catalog/identifiers.js';
import { createSchemaAjv } from '../../gateway/catalog/schema-catalog.js';
import { schemasDir } from '../../gateway/foundation/paths.js';

const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Every value with the character at `index` replaced by each other one of `symbols`. */
function substitutions(value: string, index: number, symbols: string): string[] {
  return [...symbols]
    .filter((symbol) => symbol !== value[index])
    .map((symbol) => value.slice(0, index) + symbol + value.slice(index + 1));
}

const PUBLISHED_LICENCE_IDS = [
  '1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9',
  '1.2.156.3005.2.11100000000013338W087.11370800MB28559184.37080001202411010001.001.3',
  '1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U',
  '1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S',
  '1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0',
  '1.2.156.3005.2.11100000000013338W011.11110000000021135M.20230329701.003.Y',
  '1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F',
];
const HEFEI = '1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9';

describe('electronic licence identifiers as published', () => {
  it.each(PUBLISHED_LICENCE_IDS)('accepts %s', (id) => {
    expect(electronicLicenceIdProblem(id)).toBeUndefined();
  });

  it.each(PUBLISHED_LICENCE_IDS)('refuses %s with any one character after the prefix changed', (id) => {
    const prefix = '1.2.156.3005.2.'.length;
    const accepted: string[] = [];
    for (let index = prefix; index < id.length; index++) {
      if (id[index] === '.') continue;
      accepted.push(...substitutions(id, index, ALPHANUMERIC).filter(isValidElectronicLicenceId));
    }
    expect(accepted).toEqual([]);
  });

  it('accepts the issuer field as a 6-digit administrative division code, as Hefei (340100) issues', () => {
    expect(isValidElectronicLicenceId(HEFEI)).toBe(true);
    expect(electronicLicenceIdProblem(HEFEI.replace('.340100.', '.340101.'))).toBe(
      'the check character does not match',
    );
    // Built with the right check character for a city of every province-level code GB/T 2260 has.
    for (const province of ['11', '15', '21', '23', '31', '35', '37', '41', '46', '50', '54', '61', '65']) {
      const id = electronicLicenceId('11100000MB03271699022', `${province}0100`, '000000016', '001');
      expect(electronicLicenceIdProblem(id), province).toBeUndefined();
    }
    for (const special of ['710000', '810000', '820000']) {
      const id = electronicLicenceId('11100000MB03271699022', special, '000000016', '001');
      expect(electronicLicenceIdProblem(id), special).toBeUndefined();
    }
  });

  it('refuses an issuer code that is neither a credit code nor a division code, even with a fitting check', () => {
    const issuerProblem =
      'the issuer code must be a unified social credit code (18 characters) or a 6-digit administrative division code';
    for (const issuer of [
      '990100',
      '000000',
      '160100',
      '3401000',
      '34010',
      '340A00',
      'MB0327169',
      '11100000MB032716',
    ]) {
      const id = electronicLicenceId('11100000MB03271699022', issuer, '000000016', '001');
      expect(electronicLicenceIdProblem(id), issuer).toBe(issuerProblem);
    }
    // An 18-character issuer must have the credit code's shape: digits where its division code stands.
    const letterInDivision = electronicLicenceId('11100000MB03271699022', '1137080AMB28559184', '1', '001');
    expect(electronicLicenceIdProblem(letterInDivision)).toBe(issuerProblem);
    const letterI = electronicLicenceId('11100000MB03271699022', '11370800MI28559184', '1', '001');
    expect(electronicLicenceIdProblem(letterI)).toBe(issuerProblem);
  });

  it('refuses field widths no published identifier has: type code, serial, version', () => {
    const typeTooShort = electronicLicenceId('11100000MB0327169902', '340100', '000000016', '001');
    expect(electronicLicenceIdProblem(typeTooShort)).toMatch(/^the type code must be/);
    const typeWithLetterSequence = electronicLicenceId('11100000MB032716990A2', '340100', '000000016', '001');
    expect(electronicLicenceIdProblem(typeWithLetterSequence)).toMatch(/^the type code must be/);
    const serialTooLong = electronicLicenceId('11100000MB03271699022', '340100', '1'.repeat(33), '001');
    expect(electronicLicenceIdProblem(serialTooLong)).toBe(
      'the serial must be 1 to 32 digits or upper-case letters',
    );
    for (const version of ['1', '01', '0001']) {
      const id = electronicLicenceId('11100000MB03271699022', '340100', '000000016', version);
      expect(electronicLicenceIdProblem(id), version).toBe('the version must be 3 digits');
    }
    expect(electronicLicenceIdProblem(HEFEI.toLowerCase())).toMatch(/must start with|upper-case/);
    expect(electronicLicenceIdProblem(HEFEI.replace('.001.', '.'))).toMatch(/^it must continue with/);
    expect(electronicLicenceIdProblem(`${HEFEI}.9`)).toMatch(/^it must continue with/);
  });

  it('accepts a 32-character serial (a UUID without dashes) and the shortest and longest forms', () => {
    const uuid = electronicLicenceId(
      '11100000000013338W001',
      '11110000000021135M',
      'FCE9044689494E0092B44BD193200933',
      '001',
    );
    expect(isValidElectronicLicenceId(uuid)).toBe(true);
    expect(uuid).toHaveLength(ELECTRONIC_LICENCE_ID_LENGTH.max);
    const shortest = electronicLicenceId('11100000MB03271699022', '340100', '1', '001');
    expect(isValidElectronicLicenceId(shortest)).toBe(true);
    expect(shortest).toHaveLength(ELECTRONIC_LICENCE_ID_LENGTH.min);
  });

  it('never echoes the identifier in a problem', () => {
    for (const id of [HEFEI.replace('.340100.', '.990100.'), `${HEFEI.slice(0, -1)}A`, HEFEI.toLowerCase()]) {
      const problem = electronicLicenceIdProblem(id) ?? '';
      expect(problem).not.toBe('');
      expect(problem).not.toContain('340100');
      expect(problem).not.toContain('990100');
    }
  });
});

describe('resident ID numbers as published', () => {
  const VALID = ['11010519491231002X', '320124198808240056', '110108196711301862'];

  it.each(VALID)('accepts %s', (value) => {
    expect(residentIdNumberProblem(value)).toBeUndefined();
  });

  it.each(VALID)('refuses %s with any one character changed', (value) => {
    const accepted: string[] = [];
    for (let index = 0; index < value.length; index++) {
      accepted.push(...substitutions(value, index, '0123456789X').filter((v) => isValidResidentIdNumber(v)));
    }
    expect(accepted).toEqual([]);
  });

  it('refuses the numbers PAT Basic 1031 marks wrong, for the reason it gives', () => {
    expect(residentIdNumberProblem('110108196711301866')).toBe('the check character does not match');
    expect(residentIdNumberProblem('37070419881216001X')).toBe('the check character does not match');
    expect(residentIdNumberProblem('12010X198901011234')).toMatch(/17 digits/);
  });
});

describe('unified social credit codes as published', () => {
  const VALID = [
    '91350100M000100Y43',
    '11100000MB03271699',
    '11370800MB28559184',
    '11430000006122244L',
    '11330105002500287C',
    '11110000000021135M',
  ];
  const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

  it.each(VALID)('accepts %s', (value) => {
    expect(unifiedSocialCreditCodeProblem(value)).toBeUndefined();
  });

  it.each(VALID)('refuses %s with any one character changed', (value) => {
    const accepted: string[] = [];
    for (let index = 0; index < value.length; index++) {
      accepted.push(...substitutions(value, index, ALPHANUMERIC).filter(isValidUnifiedSocialCreditCode));
    }
    expect(accepted).toEqual([]);
    // Including within the code's own alphabet, where only the check character can tell.
    expect(substitutions(value, 17, USCC_ALPHABET).filter(isValidUnifiedSocialCreditCode)).toEqual([]);
  });
});

describe('the JSON Schema and the TypeScript checks agree', () => {
  const IDENTIFIERS_ID = 'https://silobridge.dev/schemas/identifiers';

  async function identifierSchemas() {
    const schema = JSON.parse(
      await readFile(path.join(schemasDir, 'identifiers.schema.json'), 'utf8'),
    ) as AnySchemaObject & {
      $defs: Record<string, { examples?: string[]; minLength?: number; maxLength?: number }>;
    };
    const ajv = createSchemaAjv();
    ajv.addSchema(schema);
    const validate = (name: string, value: unknown) => {
      const validator = ajv.getSchema(`${IDENTIFIERS_ID}#/$defs/${name}`);
      if (!validator) throw new Error(`no $defs/${name}`);
      return validator(value) as boolean;
    };
    return { defs: schema.$defs, validate };
  }

  const CHECKS: Record<string, (value: string) => boolean> = {
    residentIdNumber: (value) => isValidResidentIdNumber(value),
    unifiedSocialCreditCode: isValidUnifiedSocialCreditCode,
    electronicLicenceId: isValidElectronicLicenceId,
  };

  it('checks exactly the identifiers the TypeScript module checks, with valid examples', async () => {
    const { defs } = await identifierSchemas();
    expect(Object.keys(defs).sort()).toEqual(Object.keys(CHECKS).sort());
    for (const [name, def] of Object.entries(defs)) {
      expect(def.examples?.length, name).toBeGreaterThan(0);
      for (const example of def.examples ?? [])
        expect(CHECKS[name]?.(example), `${name} ${example}`).toBe(true);
    }
  });

  it('bounds the licence identifier by the lengths its fields allow', async () => {
    const { defs } = await identifierSchemas();
    expect(defs.electronicLicenceId).toMatchObject({
      minLength: ELECTRONIC_LICENCE_ID_LENGTH.min,
      maxLength: ELECTRONIC_LICENCE_ID_LENGTH.max,
    });
  });

  it('gives the same verdict as the TypeScript check on published, changed and malformed values', async () => {
    const { validate } = await identifierSchemas();
    const values: Record<string, string[]> = {
      residentIdNumber: [
        '11010519491231002X',
        '11010519491231002x',
        '110108196711301866',
        '12010X198901011234',
        '350102850101123',
      ],
      unifiedSocialCreditCode: [
        '91350100M000100Y43',
        '91350100M000100Y44',
        '91350100m000100y43',
        '91350100M000100O43',
      ],
      electronicLicenceId: [
        ...PUBLISHED_LICENCE_IDS,
        HEFEI.replace('.340100.', '.340101.'),
        electronicLicenceId('11100000MB03271699022', '990100', '000000016', '001'),
        electronicLicenceId('11100000MB03271699022', '340100', '000000016', '01'),
        electronicLicenceId('11100000000013338W001', '11110000000021135M', 'F'.repeat(33), '001'),
        HEFEI.toLowerCase(),
      ],
    };
    for (const [name, list] of Object.entries(values)) {
      for (const value of list) {
        expect(validate(name, value), `${name} ${value}`).toBe(CHECKS[name]?.(value));
      }
    }
  });
});
