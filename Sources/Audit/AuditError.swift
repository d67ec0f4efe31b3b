// The one error type of the Audit target. `code` is the stable kebab-case token the server and CLI
// print; the message never contains key material or event contents.

/// A failure to write, read or trust the audit log.
public enum AuditError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed on an audit file (disk full, read-only, I/O error, permissions).
    case io(operation: String, path: String, reason: String)
    /// An earlier write failed; the log refuses further appends until it is reopened.
    case unavailable(String)
    /// A key is missing, malformed, or does not match this log (wrong master key).
    case key(String)
    /// The existing log or checkpoint file is not in the expected format.
    case corrupt(String)
    /// A caller-supplied argument is invalid.
    case invalidArgument(String)
    /// A line of the log is not a canonical record.
    case record(AuditRecord.DecodingProblem)
    /// A signed file (checkpoints, prune marks) does not verify: the first problem, with its file and line.
    case broken(AuditVerificationFailure)

    /// A stable kebab-case code.
    public var code: String {
        switch self {
        case .io: return "audit-io"
        case .unavailable: return "audit-unavailable"
        case .key: return "audit-key"
        case .corrupt: return "audit-corrupt"
        case .invalidArgument: return "bad-arguments"
        case .record: return "audit-record-malformed"
        case .broken: return "audit-broken"
        }
    }

    public var description: String {
        switch self {
        case .io(let operation, let path, let reason): return "\(code): \(operation) \(path): \(reason)"
        case .unavailable(let why), .key(let why), .corrupt(let why), .invalidArgument(let why):
            return "\(code): \(why)"
        case .record(let problem): return "\(code): \(problem)"
        case .broken(let failure): return "\(code): \(failure)"
        }
    }
}
