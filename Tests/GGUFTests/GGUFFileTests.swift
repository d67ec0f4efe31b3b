// Tests of GGUFFile: round trips through GGUFWriter, every value type and nested arrays, the real
// SmolLM2 file checked against facts read by the Python `gguf` package, and hostile/truncated files.
import Foundation
import GGUF
import GGUFTestSupport
import Testing

struct GGUFFileTests {
    static let allTypes: [(String, GGUFValue)] = [
        ("u8", .uint8(200)), ("i8", .int8(-5)), ("u16", .uint16(60000)), ("i16", .int16(-300)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-7)), ("u64", .uint64(1 << 40)), ("i64", .int64(-(1 << 40))),
        ("f32", .float32(1.5)), ("f64", .float64(-2.25)), ("b", .bool(true)), ("s", .string("héllo ✓")),
        ("arr", .array(.string, [.string("a"), .string("")])),
        ("nested", .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.int32, [])])),
    ]

    func sampleFile(version: UInt32 = 3, alignment: Int = 32) -> [UInt8] {
        var w = GGUFWriter(version: version, alignment: alignment)
        for (k, v) in Self.allTypes { w.set(k, v) }
        w.addTensor("a", dimensions: [4, 2], floats: (0..<8).map(Float.init))
        w.addTensor("b", dimensions: [32], type: .q8_0, data: [UInt8](repeating: 7, count: 34))
        return w.bytes()
    }

    @Test(arguments: [UInt32(2), 3])
    func roundTripsEveryValueType(version: UInt32) throws {
        let file = try GGUFFile(bytes: sampleFile(version: version))
        #expect(file.version == version)
        #expect(file.metadata.keys == Self.allTypes.map(\.0))
        for (k, v) in Self.allTypes { #expect(file.metadata[k] == v) }
        #expect(file.metadata.strings("arr") == ["a", ""])
        #expect(file.metadata.int("u32") == 4_000_000_000)
        let a = try #require(file.tensor(named: "a"))
        #expect(a.dimensions == [4, 2] && a.type == .f32 && a.byteCount == 32)
        let floats = file.data(of: a).withMemoryRebound(to: Float.self) { Array($0) }
        #expect(floats == (0..<8).map(Float.init))
        let b = try #require(file.tensor(named: "b"))
        #expect(b.offset % 32 == 0 && file.data(of: b).allSatisfy { $0 == 7 })
    }

    @Test func honoursAlignment() throws {
        let file = try GGUFFile(bytes: sampleFile(alignment: 64))
        #expect(file.alignment == 64 && file.dataOffset % 64 == 0)
        #expect(file.tensors.allSatisfy { $0.offset % 64 == 0 })
    }

    @Test func everyTruncationIsAnErrorNotACrash() {
        let bytes = sampleFile()
        for cut in 0..<bytes.count where cut % 3 == 0 || cut < 64 {
            do {
                let file = try GGUFFile(bytes: Array(bytes[..<cut]))
                // A cut inside the last tensor's padding may still be valid; data must then be in bounds.
                #expect(file.tensors.allSatisfy { file.dataOffset + $0.offset + $0.byteCount <= cut })
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }

    @Test func rejectsHostileHeaders() {
        func header(magic: String = "GGUF", version: UInt32 = 3, tensors: UInt64 = 0, kvs: UInt64 = 0) -> [UInt8] {
            var out = Array(magic.utf8)
            withUnsafeBytes(of: version.littleEndian) { out += $0 }
            withUnsafeBytes(of: tensors.littleEndian) { out += $0 }
            withUnsafeBytes(of: kvs.littleEndian) { out += $0 }
            return out
        }
        #expect(throws: GGUFError.badMagic(found: 0x4655_4746)) { try GGUFFile(bytes: header(magic: "FGUF")) }
        #expect(throws: GGUFError.unsupportedVersion(1)) { try GGUFFile(bytes: header(version: 1)) }
        #expect(throws: GGUFError.implausible(what: "metadata count", value: UInt64.max, offset: 24)) {
            try GGUFFile(bytes: header(kvs: .max))
        }
        // A string claiming 2^62 bytes.
        var longKey = header(kvs: 1)
        withUnsafeBytes(of: (UInt64(1) << 62).littleEndian) { longKey += $0 }
        #expect(throws: GGUFError.self) { try GGUFFile(bytes: longKey) }
        // An array claiming 2^40 elements.
        var w = GGUFWriter()
        w.set("x", .array(.uint32, [.uint32(1)]))
        var hugeArray = w.bytes()
        let countAt = 24 + 8 + 1 + 4 + 4
        withUnsafeBytes(of: (UInt64(1) << 40).littleEndian) {
            hugeArray.replaceSubrange(countAt..<countAt + 8, with: $0)
        }
        #expect(throws: GGUFError.implausible(what: "array length of 'x'", value: 1 << 40, offset: countAt + 8)) {
            try GGUFFile(bytes: hugeArray)
        }
        // Unknown value type.
        var badType = w.bytes()
        badType[24 + 8 + 1] = 99
        #expect(throws: GGUFError.unknownValueType(key: "x", type: 99, offset: 33)) { try GGUFFile(bytes: badType) }
    }

    @Test func rejectsBadTensors() {
        var unknown = GGUFWriter()
        unknown.addTensor("t", dimensions: [32], type: .f32, data: [UInt8](repeating: 0, count: 128))
        var bytes = unknown.bytes()
        // The type id sits after: header 24, name 8+1, rank 4, dim 8.
        bytes[24 + 9 + 4 + 8] = 77
        #expect(throws: GGUFError.unknownTensorType(tensor: "t", type: 77)) { try GGUFFile(bytes: bytes) }

        var notBlockMultiple = GGUFWriter()
        notBlockMultiple.addTensor("q", dimensions: [31], type: .q4_0, data: [UInt8](repeating: 0, count: 18))
        #expect(throws: GGUFError.badShape(tensor: "q", dimensions: [31])) {
            try GGUFFile(bytes: notBlockMultiple.bytes())
        }

        var tooBig = GGUFWriter()
        tooBig.addTensor("big", dimensions: [1024, 1024], type: .f32, data: [UInt8](repeating: 0, count: 64))
        #expect(throws: GGUFError.tensorOutOfBounds(tensor: "big", offset: 0, size: 4 << 20)) {
            try GGUFFile(bytes: tooBig.bytes())
        }

        var duplicate = GGUFWriter()
        duplicate.set("k", .bool(true))
        duplicate.set("k", .bool(false))
        #expect(throws: GGUFError.self) { try GGUFFile(bytes: duplicate.bytes()) }

        var deep: GGUFValue = .array(.int8, [])
        for _ in 0..<6 { deep = .array(.array, [deep]) }
        var nested = GGUFWriter()
        nested.set("deep", deep)
        #expect(throws: GGUFError.self) { try GGUFFile(bytes: nested.bytes()) }
    }

    @Test func missingFileIsAnError() {
        #expect(throws: GGUFError.cannotOpen(path: "/nonexistent/x.gguf", errno: ENOENT)) {
            try GGUFFile(path: "/nonexistent/x.gguf")
        }
    }

    /// Facts about the pinned model as the Python `gguf` package (an independent reader) reports them.
    @Test func readsTheRealModel() throws {
        let path = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
        try #require(FileManager.default.fileExists(atPath: path), "run deploy/fetch-model.sh")
        let file = try GGUFFile(path: path)
        #expect(file.version == 3 && file.tensors.count == 272 && file.metadata.keys.count == 33)
        #expect(file.metadata.string("general.architecture") == "llama")
        #expect(file.metadata.int("llama.block_count") == 30)
        #expect(file.metadata.double("llama.rope.freq_base") == 100000)
        #expect(file.metadata.strings("tokenizer.ggml.tokens")?.count == 49152)
        #expect(file.metadata.strings("tokenizer.ggml.merges")?.count == 48900)
        let embedding = try #require(file.tensor(named: "token_embd.weight"))
        #expect(embedding.type == .q8_0 && embedding.dimensions == [576, 49152])
        #expect(file.tensors.filter { $0.type == .q4_1 }.count == 210)
        #expect(file.tensors.filter { $0.type == .f32 }.count == 61)
    }
}
