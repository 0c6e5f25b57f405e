// What test/support/global-setup.ts hands to test files through vitest's inject().
declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
    postgresTemplate: string;
    testRunId: string;
  }
}

export {};
