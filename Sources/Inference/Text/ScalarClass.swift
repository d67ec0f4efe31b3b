// The Unicode classes the pre-tokenizers' regexes ask about (\p{L}, \p{N}, \s, \p{P}), with the same
// definitions llama.cpp uses: letters are the L* general categories (combining marks are not letters),
// numbers are N*, whitespace is the Unicode White_Space property. ASCII is answered from a table.

struct ScalarClass: OptionSet, Sendable {
    let rawValue: UInt8

    static let letter = ScalarClass(rawValue: 1)
    static let number = ScalarClass(rawValue: 2)
    static let whitespace = ScalarClass(rawValue: 4)
    static let punctuation = ScalarClass(rawValue: 8)

    /// The classes of `scalar`.
    static func of(_ scalar: Unicode.Scalar) -> ScalarClass {
        if scalar.value < 128 { return ascii[Int(scalar.value)] }
        return computed(scalar)
    }

    private static let ascii: [ScalarClass] = (0..<128).map { computed(Unicode.Scalar(UInt8($0))) }

    private static func computed(_ scalar: Unicode.Scalar) -> ScalarClass {
        var result: ScalarClass = []
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            result.insert(.punctuation)
        default:
            break
        }
        if scalar.properties.isWhitespace { result.insert(.whitespace) }
        return result
    }
}
