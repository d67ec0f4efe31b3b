// GGUFWriter: builds a GGUF v3 (or v2) file in memory, for tests: tiny random models and hostile files.
// It writes what it is given without validation, which is what a test of the reader needs. Test support
// only: the shipped GGUF module reads files and never writes them.
public import GGUF

/// Accumulates metadata and tensors, then serialises them as a GGUF file.
public struct GGUFWriter: Sendable {
    /// The version written in the header.
    public var version: UInt32
    /// Data alignment; also written as `general.alignment` when not 32.
    public var alignment: Int
    private var entries: [(String, GGUFValue)] = []
    private var tensors: [(name: String, dimensions: [Int], type: GGMLType, data: [UInt8])] = []

    public init(version: UInt32 = 3, alignment: Int = 32) {
        self.version = version
        self.alignment = alignment
    }

    /// Adds a metadata key.
    public mutating func set(_ key: String, _ value: GGUFValue) { entries.append((key, value)) }

    /// Adds a tensor; `data` must already be in `type`'s encoding.
    public mutating func addTensor(_ name: String, dimensions: [Int], type: GGMLType, data: [UInt8]) {
        tensors.append((name, dimensions, type, data))
    }

    /// Adds an f32 tensor.
    public mutating func addTensor(_ name: String, dimensions: [Int], floats: [Float]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(floats.count * 4)
        for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        addTensor(name, dimensions: dimensions, type: .f32, data: bytes)
    }

    /// The complete file.
    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        func int<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func string(_ s: String) {
            int(UInt64(s.utf8.count))
            out.append(contentsOf: s.utf8)
        }
        func typeID(_ v: GGUFValue) -> GGUFValueType {
            switch v {
            case .uint8: .uint8
            case .int8: .int8
            case .uint16: .uint16
            case .int16: .int16
            case .uint32: .uint32
            case .int32: .int32
            case .uint64: .uint64
            case .int64: .int64
            case .float32: .float32
            case .float64: .float64
            case .bool: .bool
            case .string: .string
            case .array: .array
            }
        }
        func value(_ v: GGUFValue) {
            switch v {
            case .uint8(let x): int(x)
            case .int8(let x): int(x)
            case .uint16(let x): int(x)
            case .int16(let x): int(x)
            case .uint32(let x): int(x)
            case .int32(let x): int(x)
            case .uint64(let x): int(x)
            case .int64(let x): int(x)
            case .float32(let x): int(x.bitPattern)
            case .float64(let x): int(x.bitPattern)
            case .bool(let x): out.append(x ? 1 : 0)
            case .string(let s): string(s)
            case .array(let t, let items):
                int(t.rawValue)
                int(UInt64(items.count))
                for item in items { value(item) }
            }
        }
        var all = entries
        if alignment != 32 { all.append(("general.alignment", .uint32(UInt32(alignment)))) }
        out.append(contentsOf: Array("GGUF".utf8))
        int(version)
        int(UInt64(tensors.count))
        int(UInt64(all.count))
        for (key, v) in all {
            string(key)
            int(typeID(v).rawValue)
            value(v)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset = (offset + t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            string(t.name)
            int(UInt32(t.dimensions.count))
            for d in t.dimensions { int(UInt64(d)) }
            int(t.type.rawValue)
            int(UInt64(o))
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out.append(contentsOf: t.data)
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }
}
