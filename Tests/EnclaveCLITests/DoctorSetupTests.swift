// `enclave doctor` catches what would stop `enclave serve`, and `serve` itself refuses the same broken
// set-ups with a clear message instead of starting half right: a model file that is not GGUF, an
// unsupported architecture, a wrong master key, a data directory others may read, a key file missing
// beside an existing database, and a configuration file with a mistyped key.
import EnclaveClient
import Foundation
import Testing

@Suite(.serialized) struct DoctorSetupTests {
    /// A directory with a working set-up (a config naming the pinned model, one account) to break.
    final class Setup {
        let root: URL

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-doc-\(UUID().uuidString)")
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent("models"), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                at: root.appendingPathComponent("models/good.gguf"),
                withDestinationURL: EnclaveBinary.packageRoot.appendingPathComponent(
                    "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
            try FileManager.default.copyItem(
                at: EnclaveBinary.packageRoot.appendingPathComponent("prompts"),
                to: root.appendingPathComponent("prompts"))
            try writeConfiguration(model: "models/good.gguf")
            let added = try EnclaveBinary.run(
                ["users", "add", "nurse", "--role", "staff", "--permanent", "--config", "enclave.yaml"],
                stdin: "nurse-password-1\n",
                in: root)
            guard added.status == 0 else { throw LineClientError(description: added.stderr) }
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        func writeConfiguration(model: String, extra: String = "") throws {
            let text = """
                providers:
                  - {name: local, kind: local, residency: on-prem, model_path: \(model)}
                routing:
                  default: local
                  prompts: {default: assistant.v1}
                \(extra)
                """
            try text.write(to: root.appendingPathComponent("enclave.yaml"), atomically: true, encoding: .utf8)
        }

        func doctor() throws -> CommandResult {
            try EnclaveBinary.run(["doctor", "--config", "enclave.yaml"], in: root)
        }

        /// `serve` must refuse to start: it exits non-zero and says why on standard error.
        func serveRefuses() throws -> String {
            let result = try EnclaveBinary.run(
                ["serve", "--config", "enclave.yaml", "--listen", "127.0.0.1:0"], in: root)
            #expect(result.status != 0, "serve started: \(result.stdout)")
            return result.stderr
        }

        /// `FAIL <key> ...` lines of a doctor run.
        static func failures(_ result: CommandResult) -> [String] {
            result.stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("FAIL") }
        }
    }

    /// A minimal GGUF (version 3, no tensors) whose only metadata is `general.architecture`.
    static func gguf(architecture: String) -> Data {
        var bytes = Data("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func string(_ s: String) {
            u64(UInt64(s.utf8.count))
            bytes.append(contentsOf: Array(s.utf8))
        }
        u32(3)
        u64(0)  // tensors
        u64(1)  // metadata entries
        string("general.architecture")
        u32(8)  // GGUF string
        string(architecture)
        return bytes
    }

    @Test func aWorkingSetUpPassesAndServeStarts() throws {
        let setup = try Setup()
        let result = try setup.doctor()
        #expect(Setup.failures(result).isEmpty, "\(result.stdout)")
        #expect(result.stdout.contains("model.load"), "\(result.stdout)")
    }

    @Test func aFileThatIsNotGGUFIsNamed() throws {
        let setup = try Setup()
        try Data("this is not a model\n".utf8).write(to: setup.root.appendingPathComponent("models/text.gguf"))
        try setup.writeConfiguration(model: "models/text.gguf")
        let failures = Setup.failures(try setup.doctor())
        #expect(failures.contains { $0.contains("model.load") && $0.contains("text.gguf") }, "\(failures)")
        #expect(try setup.serveRefuses().contains("text.gguf"))
    }

    @Test func anUnsupportedArchitectureIsNamed() throws {
        let setup = try Setup()
        try Self.gguf(architecture: "mamba-x").write(to: setup.root.appendingPathComponent("models/other.gguf"))
        try setup.writeConfiguration(model: "models/other.gguf")
        let failures = Setup.failures(try setup.doctor())
        #expect(failures.contains { $0.contains("model.verify") && $0.contains("mamba-x") }, "\(failures)")
        #expect(try setup.serveRefuses().contains("mamba-x"))
    }

    @Test func aWrongMasterKeyIsCaughtBeforeAnythingIsRead() throws {
        let setup = try Setup()
        let key = setup.root.appendingPathComponent("data/master.key")
        try FileManager.default.removeItem(at: key)
        let made = try EnclaveBinary.run(["keys", "init", "--key-file", key.path], in: setup.root)
        #expect(made.status == 0, "\(made.stderr)")
        let failures = Setup.failures(try setup.doctor())
        #expect(failures.contains { $0.contains("keys") }, "\(failures)")
        _ = try setup.serveRefuses()
    }

    @Test func aDataDirectoryOthersMayReadIsRefused() throws {
        let setup = try Setup()
        let data = setup.root.appendingPathComponent("data").path
        #expect(chmod(data, 0o755) == 0)
        let failures = Setup.failures(try setup.doctor())
        #expect(failures.contains { $0.contains("data.dir") && $0.contains("chmod 700") }, "\(failures)")
        #expect(try setup.serveRefuses().contains("chmod 700"))
    }

    @Test func aMissingKeyFileBesideADatabaseIsNeverReplaced() throws {
        let setup = try Setup()
        let key = setup.root.appendingPathComponent("data/master.key")
        try FileManager.default.removeItem(at: key)
        let failures = Setup.failures(try setup.doctor())
        #expect(failures.contains { $0.contains("keys") && $0.contains("missing") }, "\(failures)")
        #expect(try setup.serveRefuses().contains("missing"))
        #expect(!FileManager.default.fileExists(atPath: key.path), "serve wrote a new master key")
    }

    @Test func aMistypedConfigurationKeyIsNamedWithItsLine() throws {
        let setup = try Setup()
        try setup.writeConfiguration(model: "models/good.gguf", extra: "limits:\n  max_tokenz: 5\n")
        let result = try setup.doctor()
        #expect(Setup.failures(result).contains { $0.contains("enclave.yaml:7") && $0.contains("max_tokenz") })
        #expect(try setup.serveRefuses().contains("max_tokenz"))
    }
}
