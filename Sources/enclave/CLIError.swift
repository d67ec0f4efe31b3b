// The command line's one error type: a sentence for the operator, printed as `error: <text>` with exit
// status 1. Errors of the libraries keep their stable code in front (`<code>: <message>`).
import Storage

/// A failed command, as the operator reads it.
struct CLIError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }

    /// A storage error as `<code>: <message>`.
    init(_ error: StoreError) { description = "\(error.code): \(error.message)" }
}
