// The five SQLite storage classes as a Swift value, used for binding parameters and reading rows.

/// One SQLite value.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// The integer, or nil if this is not an integer.
    public var int: Int? { if case .integer(let v) = self { Int(v) } else { nil } }
    /// The real (or integer, widened), or nil.
    public var double: Double? {
        switch self {
        case .real(let v): v
        case .integer(let v): Double(v)
        default: nil
        }
    }
    /// The text, or nil if this is not text.
    public var string: String? { if case .text(let v) = self { v } else { nil } }
    /// The bytes, or nil if this is not a blob.
    public var bytes: [UInt8]? { if case .blob(let v) = self { v } else { nil } }
    /// Whether this is NULL.
    public var isNull: Bool { self == .null }
}

/// Types that bind as one SQLite value.
public protocol SQLiteBindable {
    var sqliteValue: SQLiteValue { get }
}

extension Int: SQLiteBindable { public var sqliteValue: SQLiteValue { .integer(Int64(self)) } }
extension Int64: SQLiteBindable { public var sqliteValue: SQLiteValue { .integer(self) } }
extension Double: SQLiteBindable { public var sqliteValue: SQLiteValue { .real(self) } }
extension String: SQLiteBindable { public var sqliteValue: SQLiteValue { .text(self) } }
extension Bool: SQLiteBindable { public var sqliteValue: SQLiteValue { .integer(self ? 1 : 0) } }
extension Array: SQLiteBindable where Element == UInt8 { public var sqliteValue: SQLiteValue { .blob(self) } }
extension SQLiteValue: SQLiteBindable { public var sqliteValue: SQLiteValue { self } }
extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
    public var sqliteValue: SQLiteValue { self?.sqliteValue ?? .null }
}

/// One result row, read by column index.
public struct SQLiteRow: Sendable {
    public let values: [SQLiteValue]
    public subscript(_ index: Int) -> SQLiteValue { values[index] }
}
