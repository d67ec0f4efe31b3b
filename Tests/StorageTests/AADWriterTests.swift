// The AAD bytes every sealed field is bound to: the history read path builds them with `AADWriter`
// into one reused buffer; they must equal, byte for byte, the layout DESIGN.md §4 and `Schema`
// describe. The reference encoder below is written separately from the code under test.
import Testing

@testable import Storage

@Suite("AAD layout")
struct AADWriterTests {
    /// The documented layout: "enclave-aad-v1", then each field as a 4-byte big-endian length and its UTF-8.
    func reference(_ fields: [String]) -> [UInt8] {
        var out: [UInt8] = [0x65, 0x6e, 0x63, 0x6c, 0x61, 0x76, 0x65, 0x2d, 0x61, 0x61, 0x64, 0x2d, 0x76, 0x31]
        for field in fields {
            let bytes = [UInt8](field.utf8)
            var length = bytes.count
            var prefix = [UInt8](repeating: 0, count: 4)
            for index in (0..<4).reversed() {
                prefix[index] = UInt8(length % 256)
                length /= 256
            }
            out += prefix + bytes
        }
        return out
    }

    @Test("message AADs built in a reused buffer equal the reference for every seq width and role")
    func messageRows() throws {
        let id = try #require(ConversationID(rawValue: "0123456789abcdef0123"))
        var writer = AADWriter()
        for seq in [0, 1, 9, 10, 99, 100, 12_345, 1_000_000_007, Int.max] {
            for role in ["user", "assistant", "system", "ünïcödé"] {
                writer.start(table: "messages")
                writer.messageRowField(id, seq: seq)
                writer.finish(conversation: id, role: role, keyVersion: 1)
                let expected = reference(["messages", "\(id.rawValue)/\(seq)", id.rawValue, role, "1"])
                #expect(writer.bytes == expected, "seq \(seq) role \(role)")
                writer.messageBody(id, seq: seq, role: role)
                #expect(writer.bytes == expected, "messageBody: seq \(seq) role \(role)")
                #expect(
                    Schema.aad("messages", row: "\(id.rawValue)/\(seq)", conversation: id, role: role, keyVersion: 1)
                        == expected)
            }
        }
    }

    @Test("the first bytes are fixed: domain tag, then the table's length and name")
    func literalPrefix() throws {
        let id = try #require(ConversationID(rawValue: "00000000000000000000"))
        let aad = Schema.aad("t", row: "", conversation: id, role: "r", keyVersion: 12)
        #expect(Array(aad.prefix(19)) == Array("enclave-aad-v1".utf8) + [0, 0, 0, 1, 0x74])
        #expect(Array(aad.suffix(11)) == [0, 0, 0, 1, 0x72, 0, 0, 0, 2, 0x31, 0x32])
        #expect(aad.count == 14 + 5 + 4 + 24 + 5 + 6)
    }
}
