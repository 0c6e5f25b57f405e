/**
 * HTTP path templates of a configured connector: `licences/{unifiedSocialCreditCode}`. A certificate
 * type looked up by one of several identifiers gets one template per identifier; a lookup uses the first
 * template whose placeholders its subject all has (the adapter's fillTemplate fills it in).
 */

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9]*)\}/g;

/** The identifier names a template's `{placeholders}` ask for, in order. */
export function placeholdersOf(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1] as string);
}

/** The first template the subject can fill, or undefined when it can fill none. */
export function templateFor(
  templates: readonly string[],
  subject: Record<string, unknown>,
): string | undefined {
  return templates.find((template) =>
    placeholdersOf(template).every((name) => {
      const value = subject[name];
      return typeof value === 'string' || typeof value === 'number';
    }),
  );
}
