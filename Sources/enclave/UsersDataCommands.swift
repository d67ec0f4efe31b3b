// A person's data on request: `enclave users export NAME --out F` (right of access: every conversation
// of NAME decrypted into one JSONL file, mode 0600, one object per message) and `enclave users erase NAME
// --yes` (right to erasure: every conversation crypto-shredded and the account removed, as `users delete`
// does; the audit trail stays). Both are audited before they act, naming the operator who ran them and
// counts only, never content; both refuse while a legal hold applies to the person or a conversation of
// theirs (an export under hold is allowed: access does not destroy anything).
import ArgumentParser
import Audit
import Foundation
import Storage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension UsersCommand {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every conversation of an account, decrypted, to a new JSONL file (mode 0600).",
            discussion: "One JSON object per message (type message: conversation, title, tags, seq, role, text, "
                + "times) and per piece of feedback given (type feedback: up or down, comment). "
                + "The export is audited (who ran it, how many conversations and lines), never its content.")
        @Argument var name: String
        @Option(help: "The file to create (never overwritten).") var out: String
        @OptionGroup var location: Location

        func run() async throws {
            guard !FileManager.default.fileExists(atPath: out) else {
                throw ValidationError("\(out) exists; an export never overwrites a file")
            }
            let store = try location.openStore()
            guard try await store.user(named: name) != nil else { throw ValidationError("no user \(name)") }
            let listing = try await store.listConversations(owner: name)
            var lines: [Data] = []
            for conversation in listing.summaries.sorted(by: { $0.created < $1.created }) {
                for message in try await store.history(conversation.id) {
                    lines.append(try PersonalExport.line(conversation, message))
                }
                for feedback in try await store.feedback(on: conversation.id) {
                    lines.append(try PersonalExport.line(conversation, feedback))
                }
            }
            try location.audit(
                AuditAction.userExport, subject: name,
                detail: "conversations=\(listing.summaries.count) lines=\(lines.count) "
                    + "unreadable=\(listing.damaged.count)")
            try PersonalExport.write(lines, to: out)
            print(
                "exported \(lines.count) line(s) (messages and feedback) of \(listing.summaries.count) "
                    + "conversation(s) of \(name) to \(out)")
            if !listing.damaged.isEmpty {
                print(
                    "warning: \(listing.damaged.count) conversation(s) failed their integrity check and are not in "
                        + "the export: \(listing.damaged.map(\.id.rawValue).joined(separator: ", "))")
            }
        }
    }

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Erase an account on request: crypto-shred all its conversations, remove it; the audit trail stays.",
            discussion: "Refused while a legal hold applies to the account or one of its conversations.")
        @OptionGroup var target: ShredTarget

        func run() async throws {
            let shredded = try await target.shred(action: AuditAction.userErase)
            print("erased \(target.name): crypto-shredded \(shredded) conversation(s) and removed the account")
        }
    }

    /// The account `users delete` and `users erase` destroy, and the confirmation they need.
    struct ShredTarget: ParsableArguments {
        @Argument var name: String
        @Flag(help: "Confirm: the conversations cannot be recovered.") var yes = false
        @OptionGroup var location: Location

        /// Checks the confirmation, then `UsersCommand.shred`.
        func shred(action: String) async throws -> Int {
            guard yes else {
                throw ValidationError("this destroys \(name)'s conversations for good; run again with --yes")
            }
            return try await UsersCommand.shred(name, at: location, action: action)
        }
    }

    /// Deletes `name` and crypto-shreds everything it owns, audited as `action` first; refuses under a
    /// legal hold (checked before the record, and again by the Store inside its transaction).
    static func shred(_ name: String, at location: Location, action: String) async throws -> Int {
        let store = try location.openStore()
        guard try await store.user(named: name) != nil else { throw ValidationError("no user \(name)") }
        let holds = try await store.holdsKeeping(user: name)
        guard holds.isEmpty else {
            throw CLIError(
                StoreError(
                    .held, "\(name) is under legal hold (\(holds.joined(separator: ", "))); nothing was erased"))
        }
        let owned = try await store.listConversations(owner: name)
        try location.audit(
            action, subject: name, detail: "conversations=\(owned.summaries.count + owned.damaged.count)")
        do {
            return try await store.deleteUser(name)
        } catch let error as StoreError {
            throw CLIError(error)
        }
    }
}

/// The JSONL lines of a personal-data export, and the 0600 file they go to.
enum PersonalExport {
    private static let time = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// One message as a JSON object (keys sorted, so exports are stable) followed by LF.
    static func line(_ conversation: ConversationSummary, _ message: MessageRecord) throws -> Data {
        var object = fields(conversation, type: "message", created: message.created)
        object["seq"] = message.seq
        object["role"] = message.role
        object["text"] = message.body
        if let provider = message.provider { object["provider"] = provider }
        if let model = message.modelID { object["model_id"] = model }
        return try encode(object)
    }

    /// One piece of feedback as a JSON object followed by LF.
    static func line(_ conversation: ConversationSummary, _ feedback: FeedbackRecord) throws -> Data {
        var object = fields(conversation, type: "feedback", created: feedback.created)
        object["feedback"] = feedback.up ? "up" : "down"
        object["comment"] = feedback.comment ?? NSNull()
        return try encode(object)
    }

    /// The fields every line carries: what it is, when, and its conversation.
    private static func fields(_ conversation: ConversationSummary, type: String, created: Date) -> [String: Any] {
        [
            "type": type, "conversation": conversation.id.rawValue, "title": conversation.title ?? NSNull(),
            "tags": conversation.tags.sorted(), "created": time.format(created),
            "conversation_created": time.format(conversation.created),
            "conversation_updated": time.format(conversation.updated),
        ]
    }

    private static func encode(_ object: [String: Any]) throws -> Data {
        var data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        data.append(0x0A)
        return data
    }

    /// Creates `path` (mode 0600, failing if it exists) and writes `lines` to it durably.
    static func write(_ lines: [Data], to path: String) throws {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CLIError(
                "cannot create \(path): \(String(cString: strerror(errno))) (it is never overwritten)")
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        for line in lines { try handle.write(contentsOf: line) }
        try handle.synchronize()
    }
}
