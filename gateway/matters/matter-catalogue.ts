/**
 * The matter catalogue (事项清单) as the gateway holds it: each matter with the evidence it needs, who
 * applies (a person or a company), and, per certificate type, which of the applicant's identifiers
 * make that type's lookup subject. Read by matter-catalogue-loader.ts from policies/matters/.
 */

/** The same words in Chinese and English. */
export interface Text {
  zh: string;
  en: string;
}

export const PARTIES = ['person', 'company'] as const;
export type Party = (typeof PARTIES)[number];

/**
 * The identifiers each party applies with (schemas/identifiers.schema.json), in order of preference:
 * a certificate type whose subject takes only one identifier gets the first one it accepts.
 */
export const PARTY_IDENTIFIERS: Record<Party, readonly string[]> = {
  person: ['residentIdNumber'],
  company: ['unifiedSocialCreditCode'],
};

export interface EvidenceDocument {
  id: string;
  name: Text;
  required: boolean;
  /** Certificate types that each prove this on their own. */
  anyOf: string[];
  /** What the applicant may bring instead when no certificate is obtained. */
  otherwise?: Text;
}

export interface MatterDocument {
  code: string;
  name: Text;
  party: Party;
  legalBasis: string;
  description?: string;
  evidence: EvidenceDocument[];
}

export interface MatterCatalogueDocument {
  version: 1;
  title?: string;
  matters: MatterDocument[];
}

export interface Matter extends MatterDocument {
  /** The catalogue file it is written in. */
  file: string;
  /** Per certificate type of its evidence: the applicant identifiers its lookup subject is made of. */
  subjectIdentifiers: ReadonlyMap<string, readonly string[]>;
}

export interface MatterCatalogue {
  /** Every matter, sorted by code. */
  list(): Matter[];
  get(code: string): Matter | undefined;
}

export function createMatterCatalogue(matters: Matter[]): MatterCatalogue {
  const sorted = [...matters].sort((a, b) => a.code.localeCompare(b.code));
  const byCode = new Map(sorted.map((matter) => [matter.code, matter]));
  return { list: () => sorted, get: (code) => byCode.get(code) };
}

/** The lookup subject of `certificateType` for this applicant (identifiers already checked). */
export function subjectFor(
  matter: Matter,
  certificateType: string,
  applicant: Record<string, string>,
): Record<string, string> {
  const names = matter.subjectIdentifiers.get(certificateType) ?? [];
  return Object.fromEntries(names.map((name) => [name, applicant[name] ?? '']));
}
