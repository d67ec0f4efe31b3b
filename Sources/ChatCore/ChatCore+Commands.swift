// The session commands other than sending a message: conversations, models, tags, feedback, and the
// role-restricted `/audit` and `/reload`. Each returns the rows and the `OK` text of its reply.
import Foundation
import Policy
import Routing
import Storage

extension ChatCore {
    /// `/whoami`.
    public func whoami(_ user: Principal) -> CommandResult {
        let groups = user.groups.isEmpty ? "-" : user.groups.joined(separator: ",")
        return CommandResult(ok: "user=\(user.name) role=\(user.role.rawValue) groups=\(groups)")
    }

    /// `/new [title]`: a fresh conversation carrying the user's default tags.
    public func newConversation(title: String?, as user: Principal) async throws(ChatFailure) -> String {
        var tags = await policy.defaultTags(user: user.name, groups: user.groups)
        // A title is scanned like a message: it is shown in lists and may hold what a message would.
        if let title {
            do {
                tags.formUnion(try await policy.detect(title).tags)
            } catch {
                tags.insert(Self.unreadableReplyTag)
            }
        }
        return try await step {
            try await store.createConversation(owner: user.name, title: title, tags: tags).rawValue
        }
    }

    /// `/list`: the user's own conversations, newest first; one that fails an integrity check is
    /// reported (ChatCore+Integrity.swift) and listed last as `id - - - - - integrity-failed`.
    public func list(as user: Principal, origin: String = "-") async throws(ChatFailure) -> CommandResult {
        let list = try await step { try await store.listConversations(owner: user.name) }
        let items = list.summaries
        var rows = items.sorted { $0.updated > $1.updated }.map { info -> ChatOutput in
            .row([
                info.id.rawValue, Self.field(info.title ?? "-"),
                info.tags.isEmpty ? "-" : info.tags.sorted().joined(separator: ","),
                info.provider ?? "-", Self.timestamp(info.updated), String(info.messageCount),
            ])
        }
        for damaged in list.damaged {
            try await reportIntegrity(
                damaged.error.message, subject: "conversation:\(damaged.id)", actor: user.name,
                role: user.role.rawValue, origin: origin)
            rows.append(.row([damaged.id.rawValue, "-", "-", "-", "-", "-", Self.damagedMark]))
        }
        let marked = list.damaged.isEmpty ? "" : " damaged=\(list.damaged.count)"
        return CommandResult(output: rows, ok: "conversations=\(items.count)\(marked)")
    }

    /// `/open <id>`: checks the user may use it; the session then makes it current.
    public func open(_ id: String, as user: Principal, origin: String) async throws(ChatFailure) -> CommandResult {
        let info = try await ownedConversation(try Self.conversationID(id), by: user, origin: origin)
        return CommandResult(ok: "conversation=\(info.id) messages=\(info.messageCount)")
    }

    /// `/history [n]`: the last `n` messages of the current conversation, opened.
    public func history(_ conversation: String, limit: Int?, as user: Principal, origin: String)
        async throws(ChatFailure) -> CommandResult
    {
        let id = try Self.conversationID(conversation)
        _ = try await ownedConversation(id, by: user, origin: origin)
        let messages = try await checked(id, user, origin: origin) { try await store.history(id, limit: limit) }
        let rows = messages.map { message -> ChatOutput in
            .row([String(message.seq), message.role, Self.timestamp(message.created), Self.field(message.body)])
        }
        return CommandResult(output: rows, ok: "messages=\(messages.count)")
    }

    /// `/delete <id>`: crypto-shreds the conversation (audited). One under legal hold is `forbidden` (the
    /// hold's id and reason are for operators, so neither is named).
    public func delete(_ conversation: String, as user: Principal, origin: String) async throws(ChatFailure)
        -> CommandResult
    {
        let id = try Self.conversationID(conversation)
        _ = try await ownedConversation(id, by: user, origin: origin)
        try await record(
            actor: user.name, role: user.role.rawValue, origin: origin, action: "conversation.delete",
            subject: "conversation:\(id)", outcome: "ok")
        try await step {
            do {
                try await store.delete(id)
            } catch let error as StoreError where error.code == .held {
                throw ChatFailure(.forbidden, "conversation \(id) is under legal hold and cannot be deleted")
            }
        }
        return CommandResult(ok: "deleted=\(id)")
    }

    /// `/models`: every provider with its residency and whether policy allows it for the current
    /// conversation now (or for a new conversation of this user), then how it runs (context, and for a
    /// local model its threads and sampling defaults).
    public func models(conversation: String?, selected: String?, as user: Principal, origin: String)
        async throws(ChatFailure) -> CommandResult
    {
        var tags = await policy.defaultTags(user: user.name, groups: user.groups)
        if let conversation {
            let id = try Self.conversationID(conversation)
            tags.formUnion(try await ownedConversation(id, by: user, origin: origin).tags)
        }
        let providers = gateway.providers
        let decision = await policy.decide(
            DecisionRequest(tags: tags, user: user.name, groups: user.groups, providers: gateway.router.descriptors))
        let down = gateway.unavailable()
        let rows = providers.map { provider -> ChatOutput in
            let verdict =
                decision.allowed.contains(provider.name)
                ? "allowed" : "denied:\(decision.denied[provider.name] ?? decision.rule)"
            // The last field marks the session's choice and a provider whose circuit breaker is open.
            let marks = [provider.name == selected ? "selected" : nil, down.contains(provider.name) ? "down" : nil]
            let mark = marks.compactMap { $0 }.joined(separator: ",")
            let shown = mark.isEmpty ? "-" : mark
            return .row([
                provider.name, provider.residency.rawValue, provider.region ?? "-", provider.model, verdict, shown,
                (["ctx=\(provider.contextLength)"] + provider.settings).joined(separator: " "),
            ])
        }
        return CommandResult(output: rows, ok: "providers=\(providers.count)")
    }

    /// `/model <name>`: checks the provider exists; the session remembers the choice.
    public func selectModel(_ name: String) async throws(ChatFailure) -> CommandResult {
        guard let provider = gateway.router.info(name) else {
            throw ChatFailure(.notFound, "no provider \(Self.printable(name)); see /models")
        }
        return CommandResult(ok: "model=\(provider.name) residency=\(provider.residency.rawValue)")
    }

    /// `/tag <tag>`: adds a tag to the conversation (tags only grow).
    public func tag(_ tag: String, conversation: String, as user: Principal, origin: String)
        async throws(ChatFailure) -> CommandResult
    {
        let normalized = tag.lowercased()
        guard Self.isValidTag(normalized) else {
            throw ChatFailure(.badArguments, "a tag is 1-64 of a-z 0-9 . _ : -")
        }
        // User tags are a vocabulary, not free text: free text here would be user content in the audit log.
        if let declared = await policy.declaredTags(), !declared.contains(normalized) {
            let known = declared.isEmpty ? "none (no policy is loaded)" : declared.sorted().joined(separator: ", ")
            throw ChatFailure(.badArguments, "not a tag of the policy; declared tags: \(known)")
        }
        let id = try Self.conversationID(conversation)
        _ = try await ownedConversation(id, by: user, origin: origin)
        let all = try await step { try await store.addTags([normalized], to: id) }
        return CommandResult(ok: "conversation=\(conversation) tags=\(all.sorted().joined(separator: ","))")
    }

    /// `/tags`: the conversation's tags, one row each.
    public func tags(conversation: String, as user: Principal, origin: String) async throws(ChatFailure)
        -> CommandResult
    {
        let info = try await ownedConversation(try Self.conversationID(conversation), by: user, origin: origin)
        return CommandResult(output: info.tags.sorted().map { .row([$0]) }, ok: "tags=\(info.tags.count)")
    }

    /// `/feedback up|down [comment]` on the current conversation. The rating (never the comment) is also
    /// audited as `feedback.rate`, after the conversation's call records, so `enclave canary report` can tie
    /// it to the call it rates (the conversation's last one).
    public func feedback(up: Bool, comment: String?, conversation: String, as user: Principal, origin: String)
        async throws(ChatFailure) -> CommandResult
    {
        let id = try Self.conversationID(conversation)
        _ = try await ownedConversation(id, by: user, origin: origin)
        try await step { try await store.addFeedback(conversation: id, user: user.name, up: up, comment: comment) }
        try await record(
            actor: user.name, role: user.role.rawValue, origin: origin, action: "feedback.rate",
            subject: "conversation:\(conversation)", outcome: up ? "up" : "down")
        return CommandResult(ok: "feedback=\(up ? "up" : "down")")
    }

    /// `/audit ...` (compliance): rows from the audit library (`search`, `verify`, `report`); the query
    /// is itself audited, after it ran and before its rows are shown, with outcome `ok` or `failed`.
    /// `/audit open <conversation> <reason...>` is break-glass (`breakGlass`).
    public func auditQuery(_ arguments: [String], as user: Principal, origin: String) async throws(ChatFailure)
        -> CommandResult
    {
        if arguments.first == "open" {
            return try await breakGlass(Array(arguments.dropFirst()), as: user, origin: origin)
        }
        try await require(.compliance, user, command: "audit", origin: origin)
        let rows: [[String]]
        do throws(ChatFailure) {
            rows = try await step { try auditRows(arguments) }
        } catch {
            try await record(
                actor: user.name, role: user.role.rawValue, origin: origin, action: "audit.query",
                subject: arguments.joined(separator: " "), outcome: "failed")
            throw error
        }
        try await record(
            actor: user.name, role: user.role.rawValue, origin: origin, action: "audit.query",
            subject: arguments.joined(separator: " "), outcome: "ok")
        return CommandResult(output: rows.map { .row($0.map(Self.field)) }, ok: "rows=\(rows.count)")
    }

    /// `/reload` (admin): re-reads the policy files, keeping the last good policy on error.
    public func reload(as user: Principal, origin: String) async throws(ChatFailure) -> CommandResult {
        try await require(.admin, user, command: "reload", origin: origin)
        let result = await policy.reload()
        try await record(
            actor: user.name, role: user.role.rawValue, origin: origin, action: "policy.reload",
            subject: result.auditSubject, outcome: result.ok ? "ok" : "failed")
        guard result.ok else {
            let problems = result.issues.map(\.description).joined(separator: "; ")
            throw ChatFailure(.badArguments, "policy not reloaded, the last good one stays: \(Self.field(problems))")
        }
        return CommandResult(ok: "policy=\(result.auditSubject)")
    }

    /// Refuses a command to any other role with `forbidden`, audited.
    /// A session opened by a one-time password has no role's privileges until the user chooses their own.
    func require(_ role: Role, _ user: Principal, command: String, origin: String) async throws(ChatFailure) {
        guard user.role == role, !user.mustChangePassword else {
            try await record(
                actor: user.name, role: user.role.rawValue, origin: origin, action: "access.denied",
                subject: "command:\(command)", outcome: "forbidden")
            if user.role == role { throw ChatFailure(.forbidden, Self.chooseFirst) }
            throw ChatFailure(.forbidden, "/\(command) needs the \(role.rawValue) role")
        }
    }

    static func isValidTag(_ tag: String) -> Bool {
        !tag.isEmpty && tag.count <= 64
            && tag.unicodeScalars.allSatisfy { scalar in
                ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || ".-_:".unicodeScalars.contains(scalar)
            }
    }

    /// A value made safe for one TAB-separated field: backslash, TAB, CR and LF escaped.
    static func field(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\r\n": out += "\\r\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func timestamp(_ date: Date) -> String {
        date.ISO8601Format()
    }
}
