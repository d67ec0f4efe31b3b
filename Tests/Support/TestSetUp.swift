// Whether the project's test set-up must be there: one answer for every suite that needs a tool or a test
// file the set-up installs.
import Foundation

public enum TestSetUp {
    /// True in CI (`CI` set) and under `make test` (which sets ENCLAVE_TEST_DEPS=1 and installs every tool
    /// and test model the suites use): there a missing one fails the tests that need it rather than skipping
    /// them, so nothing is skipped unseen.
    public static let required: Bool = {
        let environment = ProcessInfo.processInfo.environment
        return environment["CI"] != nil || environment["ENCLAVE_TEST_DEPS"] == "1"
    }()
}
