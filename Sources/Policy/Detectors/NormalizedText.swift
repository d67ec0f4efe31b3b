// A message as the detectors read it, and the way back to the original. People and systems write
// the same identifier in many ways: fullwidth or Arabic-Indic digits, no-break or narrow spaces,
// tabs, double spaces, zero-width characters between groups, typographic dashes. One bounded pass
// rewrites all of these to plain ASCII (never making the text longer) and records, for every byte
// it writes, where that byte came from, so each finding's span is reported in the original message.

/// The normalised bytes of one message and the map back to the original's byte offsets.
struct NormalizedText {
    /// ASCII for every digit, space, dash and fullwidth character; other bytes as in the original.
    /// A run of horizontal spaces becomes one space; a run of spaces with a line break, one `\n`.
    private(set) var bytes: [UInt8]
    /// `bytes` with ASCII letters folded to lower case.
    private(set) var lowered: [UInt8]
    /// `origins[i]` is the original offset of `bytes[i]`; one extra entry holds the original's length.
    /// Empty when the message needed no rewriting (the map is then the identity).
    private var origins: [Int32]

    init(_ original: [UInt8]) {
        // One pass folds the case and tells whether anything needs rewriting; that is every message
        // in plain ASCII prose, so the common case reads the bytes once and copies nothing else.
        var clean = true
        let folded = [UInt8](unsafeUninitializedCapacity: original.count) { buffer, count in
            original.withUnsafeBufferPointer { source in
                clean = Self.lowerIfClean(source, into: buffer)
            }
            count = original.count
        }
        if clean {
            bytes = original
            lowered = folded
            origins = []
        } else {
            (bytes, origins) = Self.rewrite(original)
            let normalized = bytes
            lowered = [UInt8](unsafeUninitializedCapacity: normalized.count) { buffer, count in
                normalized.withUnsafeBufferPointer { source in
                    for i in source.indices { buffer[i] = Bytes.lower(source[i]) }
                }
                count = normalized.count
            }
        }
    }

    /// Per byte: bit 0 for a space or line break (two in a row are rewritten to one), bit 1 for a
    /// byte that is always rewritten (non-ASCII, tab, carriage return, vertical tab, form feed).
    private static let rewriteClass: [UInt8] = (0...255).map { b in
        if b >= 0x80 || b == 0x09 || b == 0x0D || b == 0x0B || b == 0x0C { return 2 }
        return b == 0x20 || b == 0x0A ? 1 : 0
    }

    /// Writes `source` in lower case to `target` and returns true when `source` needs no rewriting:
    /// only non-ASCII text, tabs and doubled spaces are rewritten. Branch-free per byte.
    private static func lowerIfClean(
        _ source: UnsafeBufferPointer<UInt8>, into target: UnsafeMutableBufferPointer<UInt8>
    )
        -> Bool
    {
        rewriteClass.withUnsafeBufferPointer { classes in
            var found: UInt8 = 0
            var previous: UInt8 = 0
            for i in source.indices {
                let b = source[i]
                let c = classes[Int(b)]
                // A doubled space leaves bit 0 set; a rewritten byte, bit 1.
                found |= c & (previous | 2)
                previous = c
                // ASCII capitals get bit 5 (0x20): `b - 'A' < 26` as an unsigned compare.
                target[i] = b | (b &- 0x41 < 26 ? 0x20 : 0)
            }
            return found == 0
        }
    }

    /// The original byte range of a range of normalised bytes.
    func original(_ range: Range<Int>) -> Range<Int> {
        guard !origins.isEmpty else { return range }
        return Int(origins[range.lowerBound])..<Int(origins[range.upperBound])
    }

    /// What one scalar of the original becomes.
    private enum Replacement {
        case keep
        case byte(UInt8)
        case space
        case lineBreak
        case drop
    }

    private static func replacement(_ v: UInt32) -> Replacement {
        switch v {
        case 0x20, 0x09, 0x0B, 0x0C, 0xA0, 0x1680, 0x2000...0x200A, 0x202F, 0x205F, 0x3000: return .space
        case 0x0A, 0x0D, 0x85, 0x2028, 0x2029: return .lineBreak
        case 0xAD, 0x180E, 0x200B...0x200D, 0x2060, 0xFEFF: return .drop
        case 0x2010...0x2015, 0x2212, 0xFE58, 0xFE63: return .byte(UInt8(ascii: "-"))
        case 0xFF01...0xFF5E: return .byte(UInt8(v - 0xFF01 + 0x21))
        case 0x80...0x65F, 0x3001...0x9FFF, 0xAC00...0xD7A3: return .keep  // no decimal digits in these blocks
        default: break
        }
        guard v >= 0x80, let scalar = Unicode.Scalar(v), scalar.properties.numericType == .decimal,
            let value = scalar.properties.numericValue, value >= 0, value <= 9
        else { return .keep }
        return .byte(UInt8(0x30 + Int(value)))
    }

    private static func rewrite(_ text: [UInt8]) -> ([UInt8], [Int32]) {
        var out: [UInt8] = []
        var origins: [Int32] = []
        out.reserveCapacity(text.count)
        origins.reserveCapacity(text.count + 1)
        // A pending run of spaces: where it started and whether it held a line break.
        var spaceStart = -1
        var spaceHasBreak = false
        func flushSpace() {
            guard spaceStart >= 0 else { return }
            out.append(spaceHasBreak ? 0x0A : 0x20)
            origins.append(Int32(spaceStart))
            spaceStart = -1
            spaceHasBreak = false
        }
        var i = 0
        let n = text.count
        while i < n {
            let lead = text[i]
            var length = 1
            var scalar = UInt32(lead)
            if lead >= 0xF0, i + 3 < n {
                length = 4
                scalar =
                    (UInt32(lead & 0x07) << 18) | (UInt32(text[i + 1] & 0x3F) << 12)
                    | (UInt32(text[i + 2] & 0x3F) << 6) | UInt32(text[i + 3] & 0x3F)
            } else if lead >= 0xE0, i + 2 < n {
                length = 3
                scalar = (UInt32(lead & 0x0F) << 12) | (UInt32(text[i + 1] & 0x3F) << 6) | UInt32(text[i + 2] & 0x3F)
            } else if lead >= 0xC0, i + 1 < n {
                length = 2
                scalar = (UInt32(lead & 0x1F) << 6) | UInt32(text[i + 1] & 0x3F)
            }
            switch replacement(scalar) {
            case .space, .lineBreak:
                if spaceStart < 0 { spaceStart = i }
                if case .lineBreak = replacement(scalar) { spaceHasBreak = true }
            case .drop:
                break
            case .byte(let b):
                flushSpace()
                out.append(b)
                origins.append(Int32(i))
            case .keep:
                flushSpace()
                for k in 0..<length {
                    out.append(text[i + k])
                    origins.append(Int32(i + k))
                }
            }
            i += length
        }
        flushSpace()
        origins.append(Int32(n))
        return (out, origins)
    }
}
