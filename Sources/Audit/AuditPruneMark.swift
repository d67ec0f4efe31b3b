// A signed prune mark: "records before `first` were removed under the retention rule; record `first`
// follows a record whose line hashed to `prev`", with the cut-off the removed records were older than,
// signed with the log's Ed25519 checkpoint key. One JSON line per prune in `prunes.jsonl`:
//
//   {"first":1201,"prev":"<sha256 of line 1200>","before":"…Z","time":"…Z","sig":"<ed25519 signature>"}
//
// The hash chain runs from a genesis hash, so cutting its start off would look like deletion; the mark is
// the signed starting point that takes the genesis hash's place. Only the signing key makes one, so a
// prefix cut off by anyone else still fails verification, and marks only move forward (`first` strictly
// increases), so an older mark cannot excuse a later cut.
public import EnclaveCrypto
import Foundation

/// One signed statement that the log's records before `first` were pruned.
public struct AuditPruneMark: Sendable, Equatable {
    /// The sequence number of the first record kept.
    public var first: UInt64
    /// Lower-case hex SHA-256 of the line of record `first - 1`, the last one removed.
    public var prev: String
    /// The cut-off: every removed record was written before this instant.
    public var before: UTCMillis
    /// When the prune happened.
    public var time: UTCMillis
    /// Lower-case hex Ed25519 signature of `signedBytes`.
    public var signature: String

    public static let fileName = "prunes.jsonl"

    public init(first: UInt64, prev: String, before: UTCMillis, time: UTCMillis, signature: String) {
        self.first = first
        self.prev = prev
        self.before = before
        self.time = time
        self.signature = signature
    }

    /// The bytes the signature covers: the line up to (not including) `,"sig":`.
    public var signedBytes: [UInt8] {
        var writer = JSONLineWriter(capacity: 256)
        writer.field("first", Int64(first))
        writer.field("prev", prev)
        writer.field("before", before.text)
        writer.field("time", time.text)
        return writer.bytes
    }

    /// The canonical line, without LF.
    public var line: [UInt8] { signedBytes + Array(",\"sig\":\"\(signature)\"}".utf8) }

    /// Signs a new mark.
    static func make(first: UInt64, prev: String, before: UTCMillis, signer: Ed25519PrivateKey) throws
        -> AuditPruneMark
    {
        var mark = AuditPruneMark(first: first, prev: prev, before: before, time: .now, signature: "")
        mark.signature = try signer.signature(for: mark.signedBytes).hexString
        return mark
    }

    /// Whether `signature` is a valid signature of this mark under `publicKey`.
    func isValid(publicKey: Ed25519PublicKey) -> Bool {
        guard let signatureBytes = decodeHex(signature, count: 64) else { return false }
        return publicKey.isValidSignature(signatureBytes, for: signedBytes)
    }

    /// Decodes a canonical mark line; nil for anything else.
    init?(line: ArraySlice<UInt8>) {
        guard let fields = try? JSONLineReader.parse(line), fields.count == 5,
            fields[0].0 == "first", case .integer(let first) = fields[0].1, first > 1,
            fields[1].0 == "prev", case .string(let prev) = fields[1].1,
            fields[2].0 == "before", case .string(let beforeText) = fields[2].1,
            let before = UTCMillis(text: beforeText),
            fields[3].0 == "time", case .string(let timeText) = fields[3].1, let time = UTCMillis(text: timeText),
            fields[4].0 == "sig", case .string(let signature) = fields[4].1
        else { return nil }
        self.init(first: UInt64(first), prev: prev, before: before, time: time, signature: signature)
        guard self.line.elementsEqual(line) else { return nil }
    }

    /// Parses and verifies a prune file: canonical lines, valid signatures, `first` strictly increasing.
    public static func marks(from bytes: [UInt8], publicKey: Ed25519PublicKey) throws(AuditError)
        -> [AuditPruneMark]
    {
        try AuditVerifier.signedLines(
            bytes, file: .prunes, kind: "prune mark", parse: AuditPruneMark.init(line:),
            isValid: { $0.isValid(publicKey: publicKey) },
            outOfOrder: { last, next in
                next.first <= last.first ? "out of order: first record \(next.first) after \(last.first)" : nil
            })
    }

    /// The verified marks of `<directory>/prunes.jsonl` (none when it does not exist).
    static func read(directory: String, publicKey: Ed25519PublicKey) throws(AuditError) -> [AuditPruneMark] {
        try marks(from: AuditVerifier.readSignedFile(directory + "/" + fileName), publicKey: publicKey)
    }
}
