// A signed checkpoint: "the log had `count` records and the last one hashed to `head`, at `time`",
// signed with the log's Ed25519 key. One JSON line per checkpoint in `checkpoints.jsonl`:
//
//   {"count":1000,"head":"<sha256 of line 1000>","time":"…Z","sig":"<ed25519 signature>"}
//
// The signature covers the bytes before `,"sig":`. Whoever holds only the public key can check that
// every checkpointed prefix of the log is intact and that the log is not shorter than the latest
// checkpoint (truncation); the per-record MAC needs the secret key and covers the rest.
internal import EnclaveCrypto

/// One signed statement about the log's length and head.
public struct AuditCheckpoint: Sendable, Equatable {
    /// How many records the log had (the checkpoint refers to record `count`).
    public var count: UInt64
    /// Lower-case hex SHA-256 of record `count`'s line.
    public var head: String
    /// When the checkpoint was made.
    public var time: UTCMillis
    /// Lower-case hex Ed25519 signature of `signedBytes`.
    public var signature: String

    public init(count: UInt64, head: String, time: UTCMillis, signature: String) {
        self.count = count
        self.head = head
        self.time = time
        self.signature = signature
    }

    /// The bytes the signature covers: the line up to (not including) `,"sig":`.
    public var signedBytes: [UInt8] {
        var writer = JSONLineWriter(capacity: 256)
        writer.field("count", Int64(count))
        writer.field("head", head)
        writer.field("time", time.text)
        return writer.bytes
    }

    /// The canonical line, without LF.
    public var line: [UInt8] { signedBytes + Array(",\"sig\":\"\(signature)\"}".utf8) }

    /// Signs a new checkpoint.
    static func make(count: UInt64, head: String, time: UTCMillis, signer: Ed25519PrivateKey) throws -> AuditCheckpoint {
        var checkpoint = AuditCheckpoint(count: count, head: head, time: time, signature: "")
        checkpoint.signature = try signer.signature(for: checkpoint.signedBytes).hexString
        return checkpoint
    }

    /// Whether `signature` is a valid signature of this checkpoint under `publicKey`.
    func isValid(publicKey: Ed25519PublicKey) -> Bool {
        guard let signatureBytes = decodeHex(signature, count: 64) else { return false }
        return publicKey.isValidSignature(signatureBytes, for: signedBytes)
    }

    /// Decodes a canonical checkpoint line; nil for anything else.
    init?(line: ArraySlice<UInt8>) {
        guard let fields = try? JSONLineReader.parse(line), fields.count == 4,
            fields[0].0 == "count", case .integer(let count) = fields[0].1, count > 0,
            fields[1].0 == "head", case .string(let head) = fields[1].1,
            fields[2].0 == "time", case .string(let timeText) = fields[2].1, let time = UTCMillis(text: timeText),
            fields[3].0 == "sig", case .string(let signature) = fields[3].1
        else { return nil }
        self.init(count: UInt64(count), head: head, time: time, signature: signature)
        guard self.line.elementsEqual(line) else { return nil }
    }
}
