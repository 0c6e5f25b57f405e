// The closing lines of a CI run, from vitest's JSON reports (one per Node.js line): each failed test
// or test file with the first lines of its error, then one plain count over all runs. Printed last,
// so that a log cut to its tail still says what failed, not just how many.
// Usage: node .ci/test-summary.mjs <report.json>...
import { existsSync, readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';

const ERROR_LINES = 6;

const firstLines = (text) =>
  String(text ?? '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes in vitest's messages
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(0, ERROR_LINES)
    .map((line) => `      ${line}`)
    .join('\n');

const reports = process.argv
  .slice(2)
  .filter((file) => existsSync(file))
  .map((file) => ({ label: basename(file, '.json'), run: JSON.parse(readFileSync(file, 'utf8')) }));

for (const { label, run } of reports) {
  for (const file of run.testResults ?? []) {
    const where = relative(process.cwd(), file.name);
    const failedTests = (file.assertionResults ?? []).filter((test) => test.status === 'failed');
    for (const test of failedTests) {
      console.log(`FAILED (${label}) ${where} > ${test.fullName}`);
      console.log(firstLines(test.failureMessages?.join('\n')));
    }
    // A file can fail outside any test (an import error, a failing hook, an unhandled rejection).
    if (file.status === 'failed' && failedTests.length === 0) {
      console.log(`FAILED (${label}) ${where}`);
      console.log(firstLines(file.message));
    }
  }
}

const sum = (key) => reports.reduce((total, { run }) => total + (run[key] ?? 0), 0);
console.log(
  `${sum('numPassedTests')} passed, ${sum('numFailedTests')} failed, ${sum('numPendingTests') + sum('numTodoTests')} skipped`,
);
