// `enclave hold add|remove|list`: legal holds on a user or one conversation. A held user or conversation
// is exempt from retention sweeps and from every deletion (`/delete`, `users delete|erase`) until the
// hold is lifted; the Store enforces it. Placing and lifting are audited first (subject and hold id,
// never the reason: the reason is free text, sealed at rest and shown only by `hold list`).
import ArgumentParser
import Audit
import Foundation
import Storage

struct HoldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold", abstract: "Place, lift and list legal holds (exempt from retention and deletion).",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hold a user's data or one conversation.",
            discussion: "The reason is read from --reason or, without it, from the first line of standard input "
                + "(so it need not appear in the process list). It is sealed at rest and never audited.")
        @Option(help: "Hold every conversation of this user.") var user: String?
        @Option(help: "Hold this conversation (its id).") var conversation: String?
        @Option(help: "Why (a matter number, an order); prefer standard input.") var reason: String?
        @OptionGroup var location: UsersCommand.Location

        func validate() throws {
            guard (user == nil) != (conversation == nil) else {
                throw ValidationError("give exactly one of --user NAME or --conversation ID")
            }
        }

        func run() async throws {
            guard let text = reason ?? readLine(strippingNewline: true),
                !text.trimmingCharacters(in: .whitespaces).isEmpty
            else { throw ValidationError("a hold needs a reason (--reason, or a line on standard input)") }
            let kind: LegalHold.Kind = user != nil ? .user : .conversation
            let subject = user ?? conversation ?? ""
            let store = try location.openStore()
            let id = try Store.newHoldID()
            try location.audit(AuditAction.holdAdd, subject: "\(kind.rawValue):\(subject)", detail: "hold=\(id)")
            do {
                let hold = try await store.addHold(
                    kind, subject: subject, reason: text, by: OperatorAudit.actor, id: id)
                print("hold \(hold.id) placed on \(kind.rawValue) \(subject)")
            } catch let error as StoreError {
                throw CLIError(error)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a hold (its id, from `hold list`).")
        @Argument var id: String
        @OptionGroup var location: UsersCommand.Location

        func run() async throws {
            let store = try location.openStore()
            guard let hold = try await store.holds().first(where: { $0.id == id }) else {
                throw ValidationError("no hold \(id)")
            }
            try location.audit(
                AuditAction.holdRemove, subject: "\(hold.kind.rawValue):\(hold.subject)", detail: "hold=\(id)")
            try await store.removeHold(id: id)
            print("hold \(id) on \(hold.kind.rawValue) \(hold.subject) lifted")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List holds: id, kind, subject, placed by, placed at, reason (tab-separated).")
        @OptionGroup var location: UsersCommand.Location

        func run() async throws {
            let store = try location.openStore()
            let time = ISO8601DateFormatter()
            for hold in try await store.holds() {
                print(
                    [
                        hold.id, hold.kind.rawValue, hold.subject, hold.createdBy, time.string(from: hold.created),
                        hold.reason,
                    ]
                    .joined(separator: "\t"))
            }
        }
    }
}
