// A password check without scrypt's cost, for tests that log in many times: the stored hash of a password
// is "test:" followed by it. The real check (ScryptVerifier) is in BruteForceTests and the CLI suites.
public import ChatCore

public struct TestPasswords: PasswordVerifier {
    public init() {}
    public func verify(_ password: String, against stored: String) -> Bool { stored == "test:" + password }
    public var decoyHash: String { "test:\u{0}decoy" }
    public func hash(_ password: String) -> String { "test:" + password }
}
