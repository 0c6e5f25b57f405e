/**
 * The body of POST /v1/matters/{code}/evidence: `{ applicant: {<identifier>: value}, caseRef, officer }`.
 * The applicant is checked against the matter's party: only the identifiers that party applies with
 * (a person: residentIdNumber; a company: unifiedSocialCreditCode), each in its canonical form with
 * the right check character. Problems point at the field (`/applicant/residentIdNumber`) and never
 * echo its value.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { LookupPurpose } from '../access/lookup-terms.js';
import { residentIdNumberProblem, unifiedSocialCreditCodeProblem } from '../catalog/identifiers.js';
import { describeSchemaErrors } from '../catalog/schema-errors.js';
import { BadRequestError, type InvalidParam, invalidInput } from '../foundation/errors.js';
import { throwIfUnreadable } from '../http/json-body.js';
import { type Matter, PARTY_IDENTIFIERS } from './matter-catalogue.js';

export interface EvidenceRequest {
  applicant: Record<string, string>;
  caseRef: string;
  officer: string;
}

/** The body's shape; the applicant's identifiers are checked against the matter afterwards. */
export const EVIDENCE_REQUEST_SCHEMA = {
  type: 'object',
  required: ['applicant', 'caseRef', 'officer'],
  additionalProperties: false,
  properties: {
    applicant: {
      type: 'object',
      description:
        'The applicant’s identifiers, as the matter’s `applicantIdentifiers` say: a person’s `residentIdNumber`, a company’s `unifiedSocialCreditCode`.',
      minProperties: 1,
      maxProperties: 10,
      additionalProperties: { type: 'string', maxLength: 128 },
    },
    caseRef: { type: 'string', minLength: 1, maxLength: 128, description: 'The case the evidence is for.' },
    officer: { type: 'string', minLength: 1, maxLength: 128, description: 'The officer handling the case.' },
  },
} as const;

const validateShape = new Ajv2020({ allErrors: true, strict: true }).compile<EvidenceRequest>(
  EVIDENCE_REQUEST_SCHEMA,
);

const IDENTIFIER_PROBLEMS: Record<string, (value: string) => string | undefined> = {
  residentIdNumber: (value) => residentIdNumberProblem(value),
  unifiedSocialCreditCode: unifiedSocialCreditCodeProblem,
};

export function parseEvidenceRequest(body: unknown, matter: Matter): EvidenceRequest {
  throwIfUnreadable(body);
  if (!validateShape(body))
    throw invalidInput('The evidence request', describeSchemaErrors(validateShape.errors));
  const offered = PARTY_IDENTIFIERS[matter.party];
  const errors: InvalidParam[] = [];
  for (const [name, value] of Object.entries(body.applicant)) {
    const pointer = `/applicant/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (!offered.includes(name)) {
      errors.push({
        pointer,
        reason: `matter ${matter.code} is applied for by a ${matter.party}, identified by ${offered.join(', ')} only`,
      });
      continue;
    }
    const problem = IDENTIFIER_PROBLEMS[name]?.(value);
    if (problem) errors.push({ pointer, reason: problem });
  }
  for (const name of offered) {
    if (!(name in body.applicant)) errors.push({ pointer: `/applicant/${name}`, reason: 'is required' });
  }
  if (errors.length > 0) {
    throw new BadRequestError(
      `The applicant is not valid: ${errors.map((error) => `${error.pointer} ${error.reason}`).join('; ')}.`,
      errors,
      'invalid-applicant',
    );
  }
  return body;
}

export function purposeOf(matter: Matter, request: EvidenceRequest): LookupPurpose {
  return { matter: matter.code, caseRef: request.caseRef, officer: request.officer };
}
