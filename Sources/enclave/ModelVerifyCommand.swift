// `enclave model verify FILE`: knowing a GGUF file before serving it — structure, architecture, tensor
// types, tokenizer, SHA-256 and the memory a context needs — with a refusal that names everything the
// engine does not support. The checks are Inference's `ModelVerification.verify`; this file adds the
// SHA-256 (the crypto library lives here, not in Inference) and the printing.
import ArgumentParser
import EnclaveCrypto
import Foundation
import GGUF
import Inference

extension ModelCommand {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that a GGUF file can be served: structure, types, architecture, SHA-256, memory.")
        @Argument(help: "The GGUF file.") var file: String
        @Option(help: "Context length to size the memory for (default: the trained context).") var context: Int?
        @Option(help: "The SHA-256 (hex) the file must have.") var sha256: String?
        @Option(help: "Threads (each keeps its own scratch).") var threads = 2

        func run() throws {
            let report: ModelVerification
            do { report = try ModelVerification.verify(path: file, contextLength: context, threads: threads) } catch {
                throw CLIError("\(file) is not a readable GGUF file: \(error) [\(error.code)]")
            }
            let digest: String
            do { digest = try SHA256.hash(fileAtPath: file).map { String(format: "%02x", $0) }.joined() } catch {
                throw CLIError("cannot hash \(file): \(error)")
            }
            for line in Self.lines(report, sha256: digest) { print(line) }
            var refusals = report.refusals.map(\.description)
            if let pin = sha256?.lowercased(), pin != digest {
                refusals.append("SHA-256 \(digest) differs from the expected \(pin) [model-sha256-mismatch]")
            }
            guard refusals.isEmpty else {
                for refusal in refusals { print("refused: \(refusal)") }
                throw ExitCode(1)
            }
            print("verdict: servable")
        }

        /// The report, one fact per line.
        static func lines(_ r: ModelVerification, sha256: String) -> [String] {
            var out = [
                "file: \(r.path) (\(r.fileSize) bytes, GGUF v\(r.ggufVersion), \(r.tensorCount) tensors)",
                "sha256: \(sha256)",
                "architecture: \(r.architecture ?? "missing")" + (r.name.map { "  name: \($0)" } ?? ""),
            ]
            let types = r.tensorTypes.map { "\($0.type) ×\($0.tensorCount)\($0.supported ? "" : " (unsupported)")" }
            out.append("tensor types: \(types.joined(separator: ", "))")
            if let c = r.config {
                out.append(
                    "layers: \(c.layerCount)  dim: \(c.dim)  heads: \(c.headCount)/\(c.kvHeadCount)  "
                        + "vocabulary: \(c.vocabularySize)  trained context: \(c.trainedContextLength)")
            }
            let template = r.chatTemplate?.rawValue ?? "unrecognised"
            out.append("tokenizer: \(r.tokenizerModel ?? "missing")  chat template: \(template)")
            if let m = r.memory, let context = r.contextLength {
                let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
                out.append(
                    "memory for a context of \(context): \(mib(m.totalBytes)) (weights \(mib(m.weightBytes)) mapped, "
                        + "KV cache \(mib(m.kvCacheBytes)), scratch \(mib(m.scratchBytes)))")
            }
            return out
        }
    }
}
