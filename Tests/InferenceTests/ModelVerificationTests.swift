// Tests of ModelVerification (`enclave model verify`): the pinned SmolLM2 file is servable and its
// memory figure follows from its published shape; a file with an unknown architecture, an unsupported
// tensor type and an unsupported tokenizer is refused with every one of them named, and so is a tensor the
// architecture has no role for; bad contexts and unreadable files get their own errors.
import Foundation
import GGUF
import GGUFTestSupport
import Inference
import Testing

struct ModelVerificationTests {
    @Test func theDefaultModelIsServable() throws {
        let report = try ModelVerification.verify(path: TokenizerFixtures.modelPath, contextLength: 2048)
        #expect(report.isServable, "\(report.refusals)")
        #expect(report.architecture == "llama" && report.tokenizerModel == "gpt2" && report.chatTemplate == .chatml)
        #expect(report.tensorTypes.allSatisfy(\.supported) && report.tensorTypes.contains { $0.type == .q4_1 })
        #expect(report.tensorTypes.reduce(0) { $0 + $1.tensorCount } == report.tensorCount)
        // From its published shape: embeddings 49152×576 (tied to the output), then 30 layers of Q and O
        // (576×576), K and V (576×192), gate, up and down (576×1536) and two norms, and the final norm.
        let layer = 2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536 + 2 * 576
        #expect(report.parameterCount == 49152 * 576 + 30 * layer + 576)
        // SmolLM2-135M: 30 layers, 3 KV heads of 64 dimensions; keys and values in f32.
        let memory = try #require(report.memory)
        #expect(memory.kvCacheBytes == 2 * 30 * 2048 * 3 * 64 * 4)
        #expect(memory.weightBytes > 90_000_000 && memory.weightBytes < report.fileSize)
        #expect(memory.scratchBytes > 0 && memory.totalBytes > memory.weightBytes + memory.kvCacheBytes)
        #expect(report.contextLength == 2048)
    }

    @Test func refusalNamesEverythingUnsupported() throws {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("mamba"))
        writer.set("tokenizer.ggml.model", .string("rwkv"))
        let iq2 = [UInt8](repeating: 0, count: 2 * GGMLType.iq2_xxs.bytesPerBlock)
        writer.addTensor("blk.0.ssm_in.weight", dimensions: [256, 2], type: .iq2_xxs, data: iq2)
        writer.addTensor("output_norm.weight", dimensions: [4], floats: [1, 1, 1, 1])
        let report = ModelVerification.verify(file: try GGUFFile(bytes: writer.bytes()), path: "test.gguf")
        #expect(!report.isServable)
        let codes = Set(report.refusals.map(\.code))
        #expect(
            codes == ["model-unsupported-architecture", "model-unsupported-tensor-type", "tokenizer.unsupported-model"])
        let text = report.refusals.map(\.message).joined(separator: "\n")
        for named in ["'mamba'", "iq2_xxs", "blk.0.ssm_in.weight", "rwkv"] {
            #expect(text.contains(named), "refusal does not name \(named): \(text)")
        }
        #expect(report.config == nil && report.memory == nil)
        #expect(report.tensorTypes.first { $0.type == .f32 }?.supported == true)
    }

    /// A tensor the architecture has no role for is an extension the engine would leave out (an attention
    /// output bias in a llama file, LongRoPE factors outside phi3): the file is refused, naming it, as
    /// llama.cpp's loader refuses a file with tensors its architecture does not create.
    @Test(arguments: [("llama", "blk.1.attn_output.bias"), ("qwen2", "rope_factors_long.weight")])
    func aTensorWithoutARoleIsRefused(_ architecture: String, _ extra: String) throws {
        var spec = TinyModelSpec()
        spec.architecture = architecture
        spec.extraTensors = [(extra, [Float](repeating: 1, count: spec.dim))]
        let file = try GGUFFile(bytes: TinyModel(spec).bytes)
        #expect(throws: InferenceError.unexpectedTensors([extra], architecture: architecture)) {
            try TransformerModel(file: file)
        }
        let report = ModelVerification.verify(file: file, path: "extra.gguf")
        #expect(report.refusals.map(\.code).contains("model-unexpected-tensor"))  // (and no vocabulary)
        #expect(report.refusals.first?.message.contains("'\(extra)'") == true)
        // Without it, the same model loads.
        spec.extraTensors = []
        #expect(throws: Never.self) { try TransformerModel(file: GGUFFile(bytes: TinyModel(spec).bytes)) }
    }

    @Test func aContextBeyondTheTrainedOneIsRefused() throws {
        let report = try ModelVerification.verify(path: TokenizerFixtures.modelPath, contextLength: 1 << 20)
        #expect(report.refusals.map(\.code) == ["model-bad-context"])
    }

    @Test func anUnreadableFileThrowsItsGGUFError() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("verify-\(UUID()).gguf").path
        try Data("not a gguf file at all".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: InferenceError.self) { try ModelVerification.verify(path: path) }
    }
}
