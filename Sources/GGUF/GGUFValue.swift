// GGUFValue: one metadata value of a GGUF file, in every type the format defines (arrays may nest),
// plus the typed accessors the engine and tokenizer use to read keys without casting by hand.

/// The value-type ids of GGUF metadata (`enum gguf_type`).
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12
}

/// A metadata value. Arrays keep their declared element type so an empty array is still typed.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    case array(GGUFValueType, [GGUFValue])

    /// The value as an integer, if it is an integer type (or bool) that fits in `Int`.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        case .bool(let v): v ? 1 : 0
        default: nil
        }
    }

    /// The value as a floating-point number, if it is numeric.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: intValue.map(Double.init)
        }
    }

    /// The value as a string, if it is one.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value as a bool (also accepts integer 0/1).
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return intValue.map { $0 != 0 }
    }

    /// The elements, if the value is an array.
    public var arrayValue: [GGUFValue]? {
        if case .array(_, let items) = self { return items }
        return nil
    }
}

/// The key/value metadata of a GGUF file, in file order, with typed look-ups.
public struct GGUFMetadata: Sendable {
    /// Keys in the order the file lists them.
    public let keys: [String]
    /// Every value by key.
    public let values: [String: GGUFValue]

    public init(keys: [String], values: [String: GGUFValue]) {
        self.keys = keys
        self.values = values
    }

    public subscript(key: String) -> GGUFValue? { values[key] }

    /// An integer value, or nil if absent or not an integer.
    public func int(_ key: String) -> Int? { values[key]?.intValue }
    /// A floating-point value, or nil if absent or not numeric.
    public func double(_ key: String) -> Double? { values[key]?.doubleValue }
    /// A string value, or nil if absent or not a string.
    public func string(_ key: String) -> String? { values[key]?.stringValue }
    /// A bool value, or nil if absent.
    public func bool(_ key: String) -> Bool? { values[key]?.boolValue }

    /// An array of strings, or nil if absent or any element is not a string.
    public func strings(_ key: String) -> [String]? {
        guard let items = values[key]?.arrayValue else { return nil }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let s = item.stringValue else { return nil }
            out.append(s)
        }
        return out
    }

    /// An array of integers, or nil if absent or any element is not an integer.
    public func ints(_ key: String) -> [Int]? {
        guard let items = values[key]?.arrayValue else { return nil }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let v = item.intValue else { return nil }
            out.append(v)
        }
        return out
    }

    /// An array of numbers as `Float`, or nil if absent or any element is not numeric.
    public func floats(_ key: String) -> [Float]? {
        guard let items = values[key]?.arrayValue else { return nil }
        var out: [Float] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let v = item.doubleValue else { return nil }
            out.append(Float(v))
        }
        return out
    }
}
