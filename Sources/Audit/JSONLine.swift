// The small JSON dialect of the audit files: one flat object per line whose values are strings,
// integers, arrays of strings, or objects of string → integer. The writer produces one canonical
// form (fields in the caller's order, minimal escapes, no spaces), so a record's bytes are
// reproducible; the reader accepts only this dialect and never traps on hostile input. Verifiers
// re-encode what they read and compare bytes, so any non-canonical variant counts as tampering.

/// A value in an audit JSON line.
enum JSONLineValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case strings([String])
    case counts([(String, Int64)])

    static func == (a: JSONLineValue, b: JSONLineValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x == y
        case (.integer(let x), .integer(let y)): return x == y
        case (.strings(let x), .strings(let y)): return x == y
        case (.counts(let x), .counts(let y)): return x.elementsEqual(y) { $0 == $1 }
        default: return false
        }
    }
}

/// Builds one canonical JSON object as UTF-8 bytes.
struct JSONLineWriter {
    private(set) var bytes: [UInt8] = [0x7B]
    private var first = true

    init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    private mutating func key(_ name: String) {
        if !first { bytes.append(0x2C) }
        first = false
        appendString(name)
        bytes.append(0x3A)
    }

    mutating func field(_ name: String, _ value: String) {
        key(name)
        appendString(value)
    }

    mutating func field(_ name: String, _ value: Int64) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func field(_ name: String, _ value: [String]) {
        key(name)
        bytes.append(0x5B)
        for (index, element) in value.enumerated() {
            if index > 0 { bytes.append(0x2C) }
            appendString(element)
        }
        bytes.append(0x5D)
    }

    mutating func field(_ name: String, counts: [(String, Int64)]) {
        key(name)
        bytes.append(0x7B)
        for (index, (name, count)) in counts.enumerated() {
            if index > 0 { bytes.append(0x2C) }
            appendString(name)
            bytes.append(0x3A)
            bytes.append(contentsOf: String(count).utf8)
        }
        bytes.append(0x7D)
    }

    /// The object closed with `}`.
    func finished() -> [UInt8] { bytes + [0x7D] }

    private mutating func appendString(_ value: String) {
        bytes.append(0x22)
        for byte in value.utf8 {
            switch byte {
            case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
            case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(0x22)
    }
}

/// Why a line is not an object of the audit dialect.
struct JSONLineSyntaxError: Error, Equatable {
    let offset: Int
}

/// Parses one line of the audit dialect into its fields, in order.
struct JSONLineReader {
    private let bytes: ArraySlice<UInt8>
    private var index: Int

    static func parse(_ line: ArraySlice<UInt8>) throws(JSONLineSyntaxError) -> [(String, JSONLineValue)] {
        var reader = JSONLineReader(bytes: line, index: line.startIndex)
        return try reader.object()
    }

    private init(bytes: ArraySlice<UInt8>, index: Int) {
        self.bytes = bytes
        self.index = index
    }

    private var failure: JSONLineSyntaxError { JSONLineSyntaxError(offset: index - bytes.startIndex) }

    private func peek() -> UInt8? { index < bytes.endIndex ? bytes[index] : nil }

    private mutating func expect(_ byte: UInt8) throws(JSONLineSyntaxError) {
        guard peek() == byte else { throw failure }
        index += 1
    }

    private mutating func object() throws(JSONLineSyntaxError) -> [(String, JSONLineValue)] {
        try expect(0x7B)
        var fields: [(String, JSONLineValue)] = []
        if peek() == 0x7D {
            index += 1
        } else {
            while true {
                let name = try string()
                try expect(0x3A)
                fields.append((name, try value()))
                if peek() == 0x2C { index += 1; continue }
                try expect(0x7D)
                break
            }
        }
        guard index == bytes.endIndex else { throw failure }
        return fields
    }

    private mutating func value() throws(JSONLineSyntaxError) -> JSONLineValue {
        switch peek() {
        case 0x22: return .string(try string())
        case 0x5B:
            index += 1
            var elements: [String] = []
            if peek() == 0x5D { index += 1; return .strings(elements) }
            while true {
                elements.append(try string())
                if peek() == 0x2C { index += 1; continue }
                try expect(0x5D)
                return .strings(elements)
            }
        case 0x7B:
            index += 1
            var counts: [(String, Int64)] = []
            if peek() == 0x7D { index += 1; return .counts(counts) }
            while true {
                let name = try string()
                try expect(0x3A)
                counts.append((name, try integer()))
                if peek() == 0x2C { index += 1; continue }
                try expect(0x7D)
                return .counts(counts)
            }
        default: return .integer(try integer())
        }
    }

    private mutating func integer() throws(JSONLineSyntaxError) -> Int64 {
        var negative = false
        if peek() == 0x2D { negative = true; index += 1 }
        var result: Int64 = 0
        var digits = 0
        while let byte = peek(), byte >= 0x30, byte <= 0x39 {
            let (times, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - 0x30))
            guard !overflow1, !overflow2 else { throw failure }
            result = sum
            digits += 1
            index += 1
        }
        guard digits > 0 else { throw failure }
        return negative ? -result : result
    }

    private mutating func string() throws(JSONLineSyntaxError) -> String {
        try expect(0x22)
        var out: [UInt8] = []
        while true {
            guard let byte = peek() else { throw failure }
            index += 1
            switch byte {
            case 0x22: return String(decoding: out, as: UTF8.self)
            case 0x5C: try escape(into: &out)
            case 0..<0x20: throw failure
            default: out.append(byte)
            }
        }
    }

    private mutating func escape(into out: inout [UInt8]) throws(JSONLineSyntaxError) {
        guard let byte = peek() else { throw failure }
        index += 1
        switch byte {
        case 0x22, 0x5C, 0x2F: out.append(byte)
        case 0x62: out.append(0x08)
        case 0x66: out.append(0x0C)
        case 0x6E: out.append(0x0A)
        case 0x72: out.append(0x0D)
        case 0x74: out.append(0x09)
        case 0x75:
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                try expect(0x5C)
                try expect(0x75)
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw failure }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw failure }
            out.append(contentsOf: Array(String(Character(unicode)).utf8))
        default: throw failure
        }
    }

    private mutating func hex4() throws(JSONLineSyntaxError) -> UInt32 {
        var result: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek() else { throw failure }
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x61...0x66: digit = byte - 0x61 + 10
            case 0x41...0x46: digit = byte - 0x41 + 10
            default: throw failure
            }
            result = result << 4 | UInt32(digit)
            index += 1
        }
        return result
    }
}
