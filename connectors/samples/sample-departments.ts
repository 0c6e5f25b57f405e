/** The departments the sample connectors stand in for, and the certificate types each one holds. */

export interface SampleDepartment {
  code: string;
  name: { en: string; zh: string };
  certificateTypes: readonly string[];
}

export const SAMPLE_DEPARTMENTS: readonly SampleDepartment[] = [
  {
    code: 'market-regulation',
    name: { en: 'Administration for Market Regulation', zh: '市场监督管理局' },
    certificateTypes: ['business-licence', 'food-business-licence'],
  },
  {
    code: 'public-security',
    name: { en: 'Public Security Bureau', zh: '公安局' },
    certificateTypes: ['resident-id-card'],
  },
  {
    code: 'civil-affairs',
    name: { en: 'Civil Affairs Bureau', zh: '民政局' },
    certificateTypes: ['marriage-certificate'],
  },
  {
    code: 'natural-resources',
    name: { en: 'Natural Resources Bureau', zh: '自然资源局' },
    certificateTypes: ['real-estate-certificate'],
  },
];

export function sampleDepartment(code: string): SampleDepartment {
  const department = SAMPLE_DEPARTMENTS.find((candidate) => candidate.code === code);
  if (!department) {
    throw new Error(
      `no sample connector for department '${code}'; choose one of: ${SAMPLE_DEPARTMENTS.map((d) => d.code).join(', ')}`,
    );
  }
  return department;
}
