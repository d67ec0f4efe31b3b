// Errors of the Policy module. A policy problem always says where it is (file:line:column), what is
// wrong (a stable code) and how to fix it (a hint), because the reader is an admin editing YAML.

/// One problem found while loading policy files, provider files or policy test files.
public struct PolicyIssue: Sendable, Hashable, CustomStringConvertible {
    /// Stable identifiers of the kinds of problem, for scripts and tests.
    public enum Code: String, Sendable, Hashable {
        case io = "io"
        case syntax = "syntax"
        case version = "version"
        case unknownKey = "unknown-key"
        case missingKey = "missing-key"
        case duplicateKey = "duplicate-key"
        case badValue = "bad-value"
        case wrongType = "wrong-type"
        case unknownTag = "unknown-tag"
        case unknownDetector = "unknown-detector"
        case unknownProvider = "unknown-provider"
        case duplicateName = "duplicate-name"
        case contradiction = "contradiction"
        case badPattern = "bad-pattern"
        case noFiles = "no-files"
        case tooLarge = "too-large"
        /// Warnings (`policy check` prints them; a load never fails on them).
        case unusedTag = "unused-tag"
        case sharedDetector = "shared-detector"
    }

    /// The file the problem is in (as given to the loader).
    public var file: String
    /// 1-based line, 0 when the problem concerns the whole file.
    public var line: Int
    /// 1-based column, 0 when the problem concerns the whole file.
    public var column: Int
    public var code: Code
    /// What is wrong, without echoing secrets (policy files hold none, but keep messages short).
    public var message: String
    /// How to fix it.
    public var hint: String

    public init(file: String, line: Int, column: Int, code: Code, message: String, hint: String) {
        self.file = file
        self.line = line
        self.column = column
        self.code = code
        self.message = message
        self.hint = hint
    }

    /// `file:line:column: error[code]: message (hint: ...)`, the shape compilers use.
    public var description: String {
        "\(file):\(line):\(column): error[\(code.rawValue)]: \(message) (hint: \(hint))"
    }

    /// The same shape for a warning.
    public var warningDescription: String {
        "\(file):\(line):\(column): warning[\(code.rawValue)]: \(message) (hint: \(hint))"
    }
}

/// A policy set that could not be loaded, with every problem found (not just the first).
public struct PolicyLoadError: Error, Sendable, CustomStringConvertible {
    public var issues: [PolicyIssue]

    public init(issues: [PolicyIssue]) {
        self.issues = issues
    }

    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Why detection over a message failed; the caller must then treat the message as the most
/// restrictive case (fail closed).
public enum DetectionError: Error, Sendable, Hashable {
    /// The message is larger than the detectors accept.
    case inputTooLarge(bytes: Int, limit: Int)
    /// The detectors ran past their time budget for one message.
    case timeBudgetExceeded
}
