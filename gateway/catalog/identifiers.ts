/**
 * Check characters of the national identifiers that subjects are looked up by. They are checked before
 * a lookup leaves the gateway, so a mistyped number is answered at once with "bad check character"
 * instead of travelling to a department and coming back "not found".
 *
 * Only the canonical upper-case form is accepted (`X`, never `x`): identifiers are compared and
 * hashed for the audit log as given, so two spellings of one number would be two subjects. Clients
 * upper-case before sending; the error reason says so.
 */

// GB 11643-1999 (citizen identification number): 6-digit address code, 8-digit birth date YYYYMMDD,
// 3-digit sequence (odd for men, even for women), then a check character. The check is ISO 7064
// MOD 11-2: sum(a_i * W_i) over the first 17 digits with W_i = 2^(18-i) mod 11, i.e. the weights
// below, and the check character is "10X98765432"[sum mod 11] (X stands for ten).
const RESIDENT_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const RESIDENT_ID_CHECK_CHARS = '10X98765432';
const RESIDENT_ID_PATTERN = /^\d{17}[\dX]$/;
/** Birth years before this are taken as typing mistakes: no holder of an 18-digit number is older. */
const EARLIEST_BIRTH_YEAR = 1850;
/** Birth dates are calendar dates in China (UTC+8): a baby born this morning there may be "tomorrow" in UTC. */
const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

export function residentIdCheckChar(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new RangeError('a resident ID number check needs exactly 17 digits');
  let sum = 0;
  RESIDENT_ID_WEIGHTS.forEach((weight, i) => {
    sum += digitAt(first17, i) * weight;
  });
  return RESIDENT_ID_CHECK_CHARS.charAt(sum % 11);
}

/** 18 characters, a real calendar birth date not in the future, and the right check character. */
export function isValidResidentIdNumber(value: string, today: Date = new Date()): boolean {
  return residentIdNumberProblem(value, today) === undefined;
}

/** What is wrong with a resident ID number, in words that echo none of its digits; undefined if nothing. */
export function residentIdNumberProblem(value: string, today: Date = new Date()): string | undefined {
  if (/^\d{17}x$/.test(value)) return 'the check character X must be upper-case';
  if (!RESIDENT_ID_PATTERN.test(value)) return 'it must be 17 digits followed by a check character 0-9 or X';
  const birth = value.slice(6, 14);
  if (!isCalendarDate(birth) || Number(birth.slice(0, 4)) < EARLIEST_BIRTH_YEAR) {
    return 'characters 7-14 must be a real birth date (YYYYMMDD)';
  }
  const todayInChina = new Date(today.getTime() + CHINA_OFFSET_MS)
    .toISOString()
    .slice(0, 10)
    .replaceAll('-', '');
  if (birth > todayInChina) return 'characters 7-14 must be a birth date that is not in the future';
  if (residentIdCheckChar(value.slice(0, 17)) !== value.charAt(17))
    return 'the check character does not match';
  return undefined;
}

// GB 32100-2015 (unified social credit code): registration authority (1), organisation type (1),
// administrative division code (6 digits), organisation code (9), check character (1), over a
// 31-symbol alphabet of digits and upper-case letters without I, O, S, V and Z (values 0-30 in the
// order below). Weights are 3^(i-1) mod 31 and the check value is (31 - sum mod 31) mod 31.
const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;
const USCC_PATTERN = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;

export function usccCheckChar(first17: string): string {
  if (first17.length !== 17)
    throw new RangeError('a unified social credit code check needs exactly 17 characters');
  let sum = 0;
  USCC_WEIGHTS.forEach((weight, i) => {
    const value = USCC_ALPHABET.indexOf(first17.charAt(i));
    if (value < 0)
      throw new RangeError(`'${first17.charAt(i)}' is not in the unified social credit code alphabet`);
    sum += value * weight;
  });
  return USCC_ALPHABET.charAt((31 - (sum % 31)) % 31);
}

/** 18 characters of the code's alphabet, digits where the division code stands, and the right check. */
export function isValidUnifiedSocialCreditCode(value: string): boolean {
  return unifiedSocialCreditCodeProblem(value) === undefined;
}

export function unifiedSocialCreditCodeProblem(value: string): string | undefined {
  if (value.length !== 18) return 'it must be 18 characters long';
  if (value !== value.toUpperCase()) return 'letters must be upper-case';
  if (!USCC_PATTERN.test(value)) {
    return 'it may use only digits and the letters A-Y except I, O, S, V (characters 3-8 are digits)';
  }
  if (usccCheckChar(value.slice(0, 17)) !== value.charAt(17)) return 'the check character does not match';
  return undefined;
}

// GB/T 36904-2018 (电子证照 标识规范, electronic certificate identifier): the national OID arc
// 1.2.156.3005.2 (电子证照根代码), then five fields separated by dots:
//   <type code>.<issuing agency code>.<serial>.<version>.<check>
// There is no holder field: the holder is found through the licence, not its identifier.
// - type code (证照类型代码, GB/T 36902-2018): the unified social credit code of the agency that
//   defines the certificate type (18 characters) and a 3-digit sequence number, 21 characters.
// - issuing agency code (证照颁发机构代码): the issuing agency's unified social credit code (18
//   characters), or the 6-digit GB/T 2260 administrative division code of the issuing locality, as
//   a city's own e-licence platform issues them (Hefei's puts 340100 there, below).
// - serial (流水号): chosen by the issuer, digits and upper-case letters (the certificate number, a
//   date and sequence, or a UUID's 32 hex digits without dashes); 1 to 32 characters.
// - version (版本号): 3 digits, 001 for the first issue.
// - check (校验位): ISO/IEC 7064 MOD 37,36 (GB/T 17710-2008 is the identical national adoption) over
//   type + issuer + serial + version written together without the dots.
// The standards' texts are sold, not freely published; we could not read them. The field widths above
// are those of every published identifier we found, all of which verify with MOD 37,36, e.g.
//   1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9  (Hefei real estate, issuer 340100)
//   1.2.156.3005.2.11100000000013338W087.11370800MB28559184.37080001202411010001.001.3
//   1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S
//   1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0
// (the Hefei one as Hefei's e-licence platform returned it to a real-estate registry's code on
// GitHub, yanFranklin/bdc20230104; the others from housing-construction and Zhejiang investment-
// project systems' code and published file names; test/unit/identifier-formats.test.ts holds them).
// The credit codes inside are checked for their shape, not for their own check character: the
// identifier's check character covers each of their characters already, and an identifier that a
// department has issued is what identifies its licence.
const LICENCE_ID_PREFIX = '1.2.156.3005.2.';
const USCC_SHAPE = '[0-9A-HJ-NPQRTUWXY]{2}\\d{6}[0-9A-HJ-NPQRTUWXY]{10}';
/** GB/T 2260 codes begin with a province-level code: 11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81, 82. */
const DIVISION_CODE = '(?:1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])\\d{4}';
const LICENCE_TYPE_CODE = `${USCC_SHAPE}\\d{3}`;
const LICENCE_ISSUER_CODE = `${USCC_SHAPE}|${DIVISION_CODE}`;
const LICENCE_SERIAL = '[0-9A-Z]{1,32}';
const LICENCE_VERSION = '\\d{3}';
const LICENCE_TYPE_PATTERN = new RegExp(`^${LICENCE_TYPE_CODE}$`);
const LICENCE_ISSUER_PATTERN = new RegExp(`^(?:${LICENCE_ISSUER_CODE})$`);
const LICENCE_SERIAL_PATTERN = new RegExp(`^${LICENCE_SERIAL}$`);
const LICENCE_VERSION_PATTERN = new RegExp(`^${LICENCE_VERSION}$`);
const LICENCE_ID_FIELDS = new RegExp(
  `^(${LICENCE_TYPE_CODE})\\.(${LICENCE_ISSUER_CODE})\\.(${LICENCE_SERIAL})\\.(${LICENCE_VERSION})\\.([0-9A-Z])$`,
);
/** The shortest and longest identifiers these fields allow (the schema's minLength and maxLength). */
export const ELECTRONIC_LICENCE_ID_LENGTH = {
  min: LICENCE_ID_PREFIX.length + 21 + 1 + 6 + 1 + 1 + 1 + 3 + 1 + 1,
  max: LICENCE_ID_PREFIX.length + 21 + 1 + 18 + 1 + 32 + 1 + 3 + 1 + 1,
} as const;
const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * ISO/IEC 7064 MOD 37,36, a hybrid system: one check character from the same 36 symbols as the data
 * (0-9 = 0-9, A-Z = 10-35), so unlike the pure MOD 37-2 there is never a supplementary `*`. Start with
 * P = 36; for each character a: S = (P + a) mod 36, or 36 when that is 0; P = 2S mod 37. The check
 * value c makes (P + c) mod 36 = 1, so c = (37 - P) mod 36. Published vectors: "A12425GABC1234002" -> M.
 */
export function iso7064Mod3736CheckChar(data: string): string {
  let product = 36;
  for (const char of data) {
    const value = ALPHANUMERIC.indexOf(char);
    if (value < 0) throw new RangeError(`'${char}' is not one of 0-9 and A-Z (ISO/IEC 7064 MOD 37,36)`);
    const sum = (product + value) % 36 || 36;
    product = (sum * 2) % 37;
  }
  return ALPHANUMERIC.charAt((37 - product) % 36);
}

export function electronicLicenceCheckChar(
  type: string,
  issuer: string,
  serial: string,
  version: string,
): string {
  return iso7064Mod3736CheckChar(`${type}${issuer}${serial}${version}`);
}

/** Builds a complete identifier, check character included (for seed data and tests). */
export function electronicLicenceId(type: string, issuer: string, serial: string, version: string): string {
  const check = electronicLicenceCheckChar(type, issuer, serial, version);
  return `${LICENCE_ID_PREFIX}${type}.${issuer}.${serial}.${version}.${check}`;
}

export function isValidElectronicLicenceId(value: string): boolean {
  return electronicLicenceIdProblem(value) === undefined;
}

export function electronicLicenceIdProblem(value: string): string | undefined {
  if (!value.startsWith(LICENCE_ID_PREFIX)) return `it must start with ${LICENCE_ID_PREFIX}`;
  const rest = value.slice(LICENCE_ID_PREFIX.length);
  const fields = LICENCE_ID_FIELDS.exec(rest);
  if (!fields) return licenceIdFieldProblem(rest);
  const [, type = '', issuer = '', serial = '', version = '', check] = fields;
  if (electronicLicenceCheckChar(type, issuer, serial, version) !== check)
    return 'the check character does not match';
  return undefined;
}

/** Which field of an identifier that does not match LICENCE_ID_FIELDS is wrong, first one first. */
function licenceIdFieldProblem(rest: string): string {
  if (rest !== rest.toUpperCase()) return 'letters must be upper-case';
  const parts = rest.split('.');
  if (parts.length !== 5) return 'it must continue with <type code>.<issuer code>.<serial>.<version>.<check>';
  const [type = '', issuer = '', serial = '', version = ''] = parts;
  if (!LICENCE_TYPE_PATTERN.test(type)) {
    return 'the type code must be a unified social credit code followed by 3 digits (21 characters)';
  }
  if (!LICENCE_ISSUER_PATTERN.test(issuer)) {
    return 'the issuer code must be a unified social credit code (18 characters) or a 6-digit administrative division code';
  }
  if (!LICENCE_SERIAL_PATTERN.test(serial)) return 'the serial must be 1 to 32 digits or upper-case letters';
  if (!LICENCE_VERSION_PATTERN.test(version)) return 'the version must be 3 digits';
  return 'the check character must be one digit or upper-case letter';
}

function digitAt(value: string, index: number): number {
  return value.charCodeAt(index) - 48;
}

/** YYYYMMDD that names a day on the Gregorian calendar (so 19990230 and 20230229 do not). */
function isCalendarDate(yyyymmdd: string): boolean {
  const year = Number(yyyymmdd.slice(0, 4));
  const month = Number(yyyymmdd.slice(4, 6));
  const day = Number(yyyymmdd.slice(6, 8));
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  return day <= daysInMonth;
}
