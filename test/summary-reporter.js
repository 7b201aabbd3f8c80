// Jest reporter: when MULTINET_TEST_RESULTS names a file, writes the run's totals there as JSON so
// .ci/run can print its one-line "N passed, N failed" summary (jest's own summary line is not parsed).
import { writeFileSync, renameSync } from 'node:fs';

export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const file = process.env.MULTINET_TEST_RESULTS;
    if (!file) return;
    const failedSuites = results.testResults
      .filter((suite) => suite.testExecError || (suite.failureMessage && suite.numFailingTests === 0))
      .map((suite) => ({
        file: suite.testFilePath,
        message: (suite.testExecError?.message ?? suite.failureMessage ?? '').slice(0, 2000),
      }));
    const summary = {
      passed: results.numPassedTests,
      failed: results.numFailedTests + failedSuites.length,
      skipped: results.numPendingTests + results.numTodoTests,
      failedSuites,
    };
    writeFileSync(`${file}.tmp`, JSON.stringify(summary, null, 2));
    renameSync(`${file}.tmp`, file);
  }
}
