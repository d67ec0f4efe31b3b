// The values the Store hands out and takes in. All are Sendable value types; none holds key material.
public import Foundation

/// A conversation's identifier: 20 lower-case hex digits (80 random bits). Opaque, printable, no spaces.
public struct ConversationID: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let rawValue: String

    /// Accepts only the form the Store generates, so a client-typed id can be passed straight in.
    public init?(rawValue: String) {
        guard rawValue.utf8.count == 20,
            rawValue.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        self.rawValue = rawValue
    }

    init(unchecked rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// What a user may do: the three roles of DESIGN.md §3.
public enum Role: String, Sendable, CaseIterable, Codable {
    /// Sees and writes only their own conversations.
    case staff
    /// Reads the audit log; never message content.
    case compliance
    /// Manages users, policies and keys.
    case admin
}

/// A user account. `passwordHash` is a `PasswordHash` string (scrypt), never a password.
/// Who chose a user's password, and whether a password someone else chose has been used.
public enum PasswordState: Int, Sendable, Equatable {
    /// The user chose it (`/passwd`).
    case own = 0
    /// Someone else chose it (the first admin's printed password, `enclave users add|passwd`): it opens
    /// one session, in which the user is asked to choose their own.
    case oneTime = 1
    /// A one-time password that has opened its session: it logs in no more.
    case oneTimeUsed = 2
}

public struct UserRecord: Sendable, Equatable {
    public var name: String
    public var role: Role
    public var groups: [String]
    public var passwordHash: String
    public var disabled: Bool
    public var failedAttempts: Int
    public var lockedUntil: Date?
    /// Who chose the password (a one-time password must be replaced in the session it opens).
    public var passwordState: PasswordState

    public init(
        name: String, role: Role, groups: [String] = [], passwordHash: String, disabled: Bool = false,
        failedAttempts: Int = 0, lockedUntil: Date? = nil, passwordState: PasswordState = .own
    ) {
        self.name = name
        self.role = role
        self.groups = groups
        self.passwordHash = passwordHash
        self.disabled = disabled
        self.failedAttempts = failedAttempts
        self.lockedUntil = lockedUntil
        self.passwordState = passwordState
    }
}

/// A message to append; the Store assigns `seq` and `created`.
public struct NewMessage: Sendable, Equatable {
    public var role: String
    public var body: String
    public var provider: String?
    public var modelID: String?
    public var promptVersion: String?
    public var tokensIn: Int?
    public var tokensOut: Int?

    public init(
        role: String, body: String, provider: String? = nil, modelID: String? = nil,
        promptVersion: String? = nil, tokensIn: Int? = nil, tokensOut: Int? = nil
    ) {
        self.role = role
        self.body = body
        self.provider = provider
        self.modelID = modelID
        self.promptVersion = promptVersion
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
    }
}

/// A stored message, opened: the message as it was appended, with the place and time the Store gave it.
@dynamicMemberLookup
public struct MessageRecord: Sendable, Equatable {
    public var conversation: ConversationID
    public var seq: Int
    public var created: Date
    /// Role ("user", "assistant" or "system"), body, provider, model, prompt version and token counts.
    public var message: NewMessage

    /// The appended message's fields read as the record's own: `record.body`, `record.role`, ...
    /// Inlinable, so a reader in another module (the send path's history) gets a plain field load.
    @inlinable
    public subscript<Field>(dynamicMember field: KeyPath<NewMessage, Field>) -> Field { message[keyPath: field] }
}

/// A conversation as listed: title and tags opened, no messages.
public struct ConversationSummary: Sendable, Equatable {
    public var id: ConversationID
    public var owner: String
    public var title: String?
    public var tags: Set<String>
    /// The sticky provider, once one has been chosen.
    public var provider: String?
    public var created: Date
    public var updated: Date
    public var messageCount: Int
}

/// A conversation that failed an integrity check while being listed: its id and owner column (as
/// stored, so possibly the tampered value) and the `integrity` error naming the row.
public struct DamagedConversation: Sendable, Equatable {
    public var id: ConversationID
    public var owner: String
    public var error: StoreError
}

/// An owner's conversations: the sound ones, and the ones set apart by an integrity check.
public struct ConversationListing: Sendable, Equatable {
    public var summaries: [ConversationSummary] = []
    public var damaged: [DamagedConversation] = []
}

/// One master-key version as the database knows it.
public struct MasterKeyStatus: Sendable, Equatable {
    public enum State: String, Sendable { case active, retiring, retired }
    public var version: Int
    public var state: State
    /// Conversations whose data key is wrapped under this version.
    public var conversations: Int
    /// Whether this process's key ring holds the key.
    public var available: Bool
}
