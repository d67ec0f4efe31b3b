// GGUFError: the one error type of the GGUF reader. Every case names what was being read and the
// byte offset where reading failed, so a truncated or hostile file produces a precise message.

/// Why a GGUF file could not be read. `offset` is the byte position in the file where the problem was found.
public enum GGUFError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened, sized or mapped (`errno` from the failing call).
    case cannotOpen(path: String, errno: Int32)
    /// The first four bytes are not "GGUF".
    case badMagic(found: UInt32)
    /// A version other than 2 or 3.
    case unsupportedVersion(UInt32)
    /// Reading `what` needed `needed` bytes at `offset`, but the file ends sooner.
    case truncated(what: String, offset: Int, needed: Int)
    /// A metadata value type id that GGUF does not define.
    case unknownValueType(key: String, type: UInt32, offset: Int)
    /// A count or size that cannot be right (e.g. more array elements than bytes left).
    case implausible(what: String, value: UInt64, offset: Int)
    /// Arrays nested deeper than the reader allows.
    case nestingTooDeep(key: String, offset: Int)
    /// The same metadata key or tensor name appears twice.
    case duplicate(name: String, offset: Int)
    /// `general.alignment` is not a positive power of two.
    case badAlignment(UInt64)
    /// A tensor's type id is not one this reader knows.
    case unknownTensorType(tensor: String, type: UInt32)
    /// A tensor's dimensions are invalid (zero rank, too many dims, overflow, row not a block multiple).
    case badShape(tensor: String, dimensions: [UInt64])
    /// A tensor's data lies (partly) outside the file or is misaligned.
    case tensorOutOfBounds(tensor: String, offset: UInt64, size: UInt64)
    /// A metadata key the caller needed is absent or has another type.
    case missingKey(String)
    /// A tensor the caller needed is absent.
    case missingTensor(String)

    /// A stable kebab-case code for the error.
    public var code: String {
        switch self {
        case .cannotOpen: "gguf-cannot-open"
        case .badMagic: "gguf-bad-magic"
        case .unsupportedVersion: "gguf-unsupported-version"
        case .truncated: "gguf-truncated"
        case .unknownValueType: "gguf-unknown-value-type"
        case .implausible: "gguf-implausible-size"
        case .nestingTooDeep: "gguf-nesting-too-deep"
        case .duplicate: "gguf-duplicate"
        case .badAlignment: "gguf-bad-alignment"
        case .unknownTensorType: "gguf-unknown-tensor-type"
        case .badShape: "gguf-bad-shape"
        case .tensorOutOfBounds: "gguf-tensor-out-of-bounds"
        case .missingKey: "gguf-missing-key"
        case .missingTensor: "gguf-missing-tensor"
        }
    }

    public var description: String {
        switch self {
        case .cannotOpen(let path, let errno): "cannot open GGUF file \(path) (errno \(errno))"
        case .badMagic(let found): "not a GGUF file: magic 0x\(String(found, radix: 16)) at offset 0"
        case .unsupportedVersion(let v): "unsupported GGUF version \(v) (supported: 2, 3)"
        case .truncated(let what, let offset, let needed):
            "file truncated: reading \(what) at offset \(offset) needs \(needed) bytes"
        case .unknownValueType(let key, let type, let offset):
            "unknown metadata value type \(type) for key '\(key)' at offset \(offset)"
        case .implausible(let what, let value, let offset): "implausible \(what) \(value) at offset \(offset)"
        case .nestingTooDeep(let key, let offset): "arrays nested too deeply in key '\(key)' at offset \(offset)"
        case .duplicate(let name, let offset): "duplicate name '\(name)' at offset \(offset)"
        case .badAlignment(let a): "general.alignment \(a) is not a power of two"
        case .unknownTensorType(let tensor, let type): "tensor '\(tensor)' has unknown type id \(type)"
        case .badShape(let tensor, let dims): "tensor '\(tensor)' has invalid dimensions \(dims)"
        case .tensorOutOfBounds(let tensor, let offset, let size):
            "tensor '\(tensor)' data (offset \(offset), \(size) bytes) lies outside the file or is misaligned"
        case .missingKey(let key): "metadata key '\(key)' is missing or has the wrong type"
        case .missingTensor(let name): "tensor '\(name)' is missing"
        }
    }
}
