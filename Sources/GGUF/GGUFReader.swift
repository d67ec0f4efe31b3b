// GGUFReader: the bounds-checked cursor over a GGUF header. Every read checks the bytes left first and
// throws GGUFError.truncated naming the field and offset; counts are checked for plausibility before any
// allocation, so a hostile "4 billion elements" header cannot exhaust memory.

/// Arrays may nest (GGUF allows arrays of arrays); deeper than this is rejected as hostile.
let maximumArrayNesting = 4

struct GGUFReader {
    let base: UnsafeRawPointer
    let count: Int
    private(set) var offset = 0

    init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    var remaining: Int { count - offset }

    private mutating func take<T: FixedWidthInteger>(_ what: @autoclosure () -> String, as: T.Type) throws(GGUFError)
        -> T
    {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .truncated(what: what(), offset: offset, needed: size) }
        let value = base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    mutating func u8(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt8 { try take(what(), as: UInt8.self) }
    mutating func u16(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt16 {
        try take(what(), as: UInt16.self)
    }
    mutating func u32(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt32 {
        try take(what(), as: UInt32.self)
    }
    mutating func u64(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt64 {
        try take(what(), as: UInt64.self)
    }

    /// Throws unless `count` items of at least `minimumBytesEach` bytes could fit in the bytes left.
    func checkPlausible(_ what: String, _ count: UInt64, minimumBytesEach: Int) throws(GGUFError) {
        if count > UInt64(remaining / max(minimumBytesEach, 1)) {
            throw .implausible(what: what, value: count, offset: offset)
        }
    }

    mutating func string(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let start = offset
        let length = try u64("length of \(what())")
        guard length <= UInt64(remaining) else {
            throw .truncated(what: what(), offset: start, needed: Int(clamping: length) &+ 8)
        }
        let bytes = UnsafeRawBufferPointer(start: base + offset, count: Int(length))
        offset += Int(length)
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func value(type rawType: UInt32, key: String, depth: Int) throws(GGUFError) -> GGUFValue {
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw .unknownValueType(key: key, type: rawType, offset: offset - 4)
        }
        switch type {
        case .uint8: return .uint8(try u8(key))
        case .int8: return .int8(Int8(bitPattern: try u8(key)))
        case .uint16: return .uint16(try u16(key))
        case .int16: return .int16(Int16(bitPattern: try u16(key)))
        case .uint32: return .uint32(try u32(key))
        case .int32: return .int32(Int32(bitPattern: try u32(key)))
        case .uint64: return .uint64(try u64(key))
        case .int64: return .int64(Int64(bitPattern: try u64(key)))
        case .float32: return .float32(Float(bitPattern: try u32(key)))
        case .float64: return .float64(Double(bitPattern: try u64(key)))
        case .bool:
            let at = offset
            let b = try u8(key)
            guard b <= 1 else { throw .implausible(what: "bool value of '\(key)'", value: UInt64(b), offset: at) }
            return .bool(b == 1)
        case .string: return .string(try string("string value of '\(key)'"))
        case .array:
            guard depth < maximumArrayNesting else { throw .nestingTooDeep(key: key, offset: offset) }
            let elementRaw = try u32("array element type of '\(key)'")
            guard let elementType = GGUFValueType(rawValue: elementRaw) else {
                throw .unknownValueType(key: key, type: elementRaw, offset: offset - 4)
            }
            let n = try u64("array length of '\(key)'")
            try checkPlausible("array length of '\(key)'", n, minimumBytesEach: Self.minimumSize(of: elementType))
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(n))
            for _ in 0..<n {
                items.append(try value(type: elementRaw, key: key, depth: depth + 1))
            }
            return .array(elementType, items)
        }
    }

    static func minimumSize(of type: GGUFValueType) -> Int {
        switch type {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64, .string: 8
        case .array: 12
        }
    }

    mutating func tensorInfo(alignment: Int) throws(GGUFError) -> GGUFTensorInfo {
        let name = try string("tensor name")
        let rankOffset = offset
        let rank = try u32("rank of tensor '\(name)'")
        guard rank >= 1, rank <= 4 else {
            throw .implausible(what: "rank of tensor '\(name)'", value: UInt64(rank), offset: rankOffset)
        }
        var raw: [UInt64] = []
        for i in 0..<rank { raw.append(try u64("dimension \(i) of tensor '\(name)'")) }
        let typeRaw = try u32("type of tensor '\(name)'")
        let dataOffset = try u64("data offset of tensor '\(name)'")
        guard let type = GGMLType(rawValue: typeRaw) else { throw .unknownTensorType(tensor: name, type: typeRaw) }
        var elements = 1
        for d in raw {
            guard d >= 1, d <= UInt64(Int32.max) else { throw .badShape(tensor: name, dimensions: raw) }
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(d))
            guard !overflow, product <= 1 << 48 else { throw .badShape(tensor: name, dimensions: raw) }
            elements = product
        }
        let dims = raw.map { Int($0) }
        guard dims[0] % type.blockSize == 0 else { throw .badShape(tensor: name, dimensions: raw) }
        let bytes = elements / type.blockSize * type.bytesPerBlock
        guard dataOffset % UInt64(alignment) == 0, dataOffset <= UInt64(Int.max / 2) else {
            throw .tensorOutOfBounds(tensor: name, offset: dataOffset, size: UInt64(bytes))
        }
        return GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: Int(dataOffset), byteCount: bytes)
    }
}
