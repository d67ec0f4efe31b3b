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

/// The Policy library's one error type: a set of files that could not be loaded (every problem found, not
/// just the first), or detection over a message that could not finish (the caller then treats the message
/// as the most restrictive case: fail closed).
public enum PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A policy set, a policy test file or a provider file that could not be loaded.
    case load([PolicyIssue])
    /// The message is larger than the detectors accept.
    case inputTooLarge(bytes: Int, limit: Int)
    /// The detectors ran past their time budget for one message.
    case timeBudgetExceeded

    /// The problems of a load (none for a detection failure).
    public var issues: [PolicyIssue] {
        if case .load(let issues) = self { return issues }
        return []
    }

    /// A stable code: the first problem's for a load.
    public var code: String {
        switch self {
        case .load(let issues): issues.first?.code.rawValue ?? "policy-invalid"
        case .inputTooLarge: "detection-input-too-large"
        case .timeBudgetExceeded: "detection-time-budget"
        }
    }

    public var description: String {
        switch self {
        case .load(let issues): issues.map(\.description).joined(separator: "\n")
        case .inputTooLarge(let bytes, let limit): "\(code): the message has \(bytes) bytes; detection takes \(limit)"
        case .timeBudgetExceeded: "\(code): detection ran past its time budget"
        }
    }
}
