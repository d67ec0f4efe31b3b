// GPT-2's byte-level alphabet: every byte 0...255 is written as one printable Unicode character so that
// BPE can work on text without spaces or control bytes. Printable Latin-1 bytes stand for themselves;
// the other 68 bytes are numbered upwards from U+0100 (so a space, 0x20, is `Ġ` = U+0120).

enum ByteLevel {
    /// The character that stands for each byte.
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte each alphabet character stands for, indexed by scalar value (0..<324); -1 if none.
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    /// `!`...`~`, `¡`...`¬` and `®`...`ÿ` are printable and map to themselves.
    private static func isPrintable(_ byte: Int) -> Bool {
        (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
    }

    /// The byte-level spelling of raw bytes.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(scalarForByte[Int(byte)]) }
        return String(text)
    }

    /// The raw bytes a byte-level string stands for; characters outside the alphabet keep their UTF-8.
    static func decode(_ text: String, into bytes: inout [UInt8]) {
        for scalar in text.unicodeScalars {
            let value = Int(scalar.value)
            if value < byteForScalar.count, byteForScalar[value] >= 0 {
                bytes.append(UInt8(byteForScalar[value]))
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
    }
}
