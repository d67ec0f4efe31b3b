// `enclave model list`, run as an operator runs it: one line per configured local model with its status
// (`ok`, `missing`, `unsupported: <reasons>`), exit status 1 naming `model-not-servable` when any is not
// servable, and the shipped configuration listing the pinned model as servable.
import Foundation
import GGUF
import GGUFTestSupport
import Testing

@Suite struct ModelListTests {
    static let pinned = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    static let pinnedPresent = FileManager.default.fileExists(
        atPath: EnclaveBinary.packageRoot.appendingPathComponent(pinned).path)
    static let skipReason: Comment = "models/SmolLM2-135M-Instruct.Q4_1.gguf is absent: run deploy/fetch-model.sh"

    /// Settings from the test runner's environment must not replace the configuration under test.
    static let cleanEnvironment = ["ENCLAVE_CONFIG": "", "ENCLAVE_MODEL": ""]

    /// The rows of `model list`'s table by provider: each row's columns (split at runs of two or more
    /// spaces, as the help text describes), the status last.
    private func rows(_ output: String) -> [String: [String]] {
        var rows: [String: [String]] = [:]
        for line in output.split(separator: "\n").dropFirst() {
            let columns = line.components(separatedBy: "  ").filter { !$0.isEmpty }
                .map { $0.trimmingCharacters(in: .whitespaces) }
            rows[columns[0]] = columns
        }
        return rows
    }

    /// A configuration whose local providers are `models` (name, model_path), written into a new directory
    /// with whatever `prepare` puts beside it.
    private func configure(_ models: [(String, String)], prepare: (URL) throws -> Void) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "enclave-model-list-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try prepare(directory)
        let providers = models.map { name, path in
            "  - name: \(name)\n    kind: local\n    residency: on-prem\n    model_path: \(path)\n"
        }
        try
            ("providers:\n" + providers.joined()
            + "routing:\n  default: \(models[0].0)\n  prompts: {default: assistant.v1}\n").write(
                to: directory.appendingPathComponent("enclave.yaml"), atomically: true, encoding: .utf8)
        return directory
    }

    @Test(.enabled(if: pinnedPresent, skipReason))
    func everyModelGetsItsStatusAndAnyFailureFailsTheCommand() throws {
        let directory = try configure([
            ("good", EnclaveBinary.packageRoot.appendingPathComponent(Self.pinned).path),
            ("absent", "models/absent.gguf"),
            ("corrupt", "corrupt.gguf"),
            ("foreign", "mamba.gguf"),
        ]) { directory in
            try Data("not a GGUF file, only some bytes".utf8).write(
                to: directory.appendingPathComponent("corrupt.gguf"))
            // Readable GGUF, but nothing in it this engine runs: an unknown architecture, a tensor type the
            // kernels lack and no tokenizer.
            var writer = GGUFWriter()
            writer.set("general.architecture", .string("mamba"))
            let iq2 = [UInt8](repeating: 0, count: 2 * GGMLType.iq2_xxs.bytesPerBlock)
            writer.addTensor("blk.0.ssm_in.weight", dimensions: [256, 2], type: .iq2_xxs, data: iq2)
            try Data(writer.bytes()).write(to: directory.appendingPathComponent("mamba.gguf"))
        }
        defer { try? FileManager.default.removeItem(at: directory) }

        let result = try EnclaveBinary.run(
            ["model", "list", "--config", "enclave.yaml"], environment: Self.cleanEnvironment, in: directory)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let header = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(
            header.split(separator: " ") == [
                "PROVIDER", "PATH", "PRESENT", "SIZE", "ARCH", "TYPES", "PARAMS", "CONTEXT", "STATUS",
            ])
        let rows = rows(result.stdout)
        #expect(rows.keys.sorted() == ["absent", "corrupt", "foreign", "good"], "\(result.stdout)")

        // SmolLM2-135M: llama, Q4_1 weights (Q8_0 embeddings), 134.5M parameters, trained on 8192 positions.
        let good = try #require(rows["good"])
        #expect(good.dropFirst(2) == ["yes", "93.8MiB", "llama", "q4_1,q8_0,f32", "134.5M", "8192", "ok"], "\(good)")

        #expect(rows["absent"]?.dropFirst(2) == ["no", "-", "-", "-", "-", "-", "missing"], "\(rows["absent"] ?? [])")

        let corrupt = try #require(rows["corrupt"]).last ?? ""
        #expect(corrupt.hasPrefix("unsupported: not a readable GGUF file: ") && corrupt.hasSuffix("]"), "\(corrupt)")

        let foreign = try #require(rows["foreign"])
        #expect(foreign[2] == "yes" && foreign[3].hasSuffix("B") && foreign[4] == "mamba", "\(foreign)")
        let reasons = foreign.last ?? ""
        #expect(reasons.hasPrefix("unsupported: "), "\(reasons)")
        for named in ["'mamba'", "iq2_xxs", "[model-unsupported-architecture]", "[model-unsupported-tensor-type]"] {
            #expect(reasons.contains(named), "the status does not name \(named): \(reasons)")
        }

        #expect(
            result.stderr.contains("model-not-servable: 3 of 4 local model(s) cannot be served"), "\(result.stderr)")
        #expect(result.stderr.contains("absent (missing), corrupt (unsupported), foreign (unsupported)"))
    }

    @Test(.enabled(if: pinnedPresent, skipReason))
    func theShippedConfigurationListsThePinnedModelAsServable() throws {
        let result = try EnclaveBinary.run(
            ["model", "list", "--config", "deploy/enclave.yaml", "--sha256"], environment: Self.cleanEnvironment)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let rows = rows(result.stdout)
        #expect(rows.count == 1, "\(result.stdout)")
        let local = try #require(rows["local"])
        #expect(local[1].hasSuffix(Self.pinned), "\(local)")
        #expect(local.last == "ok", "\(local)")
        // The digest column against the pin deploy/fetch-model.sh checks.
        let pins = try String(
            contentsOf: EnclaveBinary.packageRoot.appendingPathComponent("deploy/default-model.env"), encoding: .utf8)
        let pin = pins.split(separator: "\n").first { $0.hasPrefix("MODEL_SHA256=") }?.dropFirst("MODEL_SHA256=".count)
        #expect(local.count == 10 && local[8] == pin.map(String.init), "\(local)")
    }

    @Test func theHelpDocumentsTheColumnsAndStatuses() throws {
        let result = try EnclaveBinary.run(["model", "list", "--help"])
        #expect(result.status == 0)
        let help = result.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for text in [
            "PROVIDER PATH PRESENT SIZE ARCH TYPES PARAMS CONTEXT [SHA256] STATUS", "`missing`", "--sha256",
            "--config", "model-not-servable",
        ] {
            #expect(help.contains(text), "the help does not mention \(text): \(result.stdout)")
        }
    }
}
