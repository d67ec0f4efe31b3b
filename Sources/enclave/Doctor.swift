// `enclave doctor`: checks that this machine can run Enclave, and says how to fix what is not.
import ArgumentParser
import EnclaveCrypto
import Foundation
import Inference
import Routing
import Storage

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the libraries, CPU, data directory and default model; exit non-zero on any problem."
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: "The model file to check (default: every configured local model, else the pinned SmolLM2).")
    var model: String?

    func run() throws {
        var report = DoctorReport()

        report.info("enclave", EnclaveVersion.current)
        report.info("sqlite", SQLiteLibrary.version)
        report.info("openssl", OpenSSL.version)
        report.info("openblas", Platform.blasVersion ?? "unknown (\(Platform.blasConfiguration))")
        report.info("openblas.config", Platform.blasConfiguration)
        report.info("openblas.threads", String(Platform.blasThreads))
        report.info("cpu.simd", Platform.simdFeatures.description)
        #if arch(x86_64)
            if !Platform.simdFeatures.isSuperset(of: [.avx2, .fma]) {
                report.warn("cpu.simd", "no AVX2/FMA: the engine runs its portable kernels, several times slower")
            }
        #endif

        var flags = options.flags
        flags.model = model
        let settings: Settings
        do {
            settings = try Settings.resolve(flags)
        } catch {
            report.fail("config", "\(error)")
            print(report.rendered, terminator: "")
            throw ValidationError("1 problem(s) found; see the lines marked FAIL above.")
        }
        for row in settings.described { report.info("setting." + row.name, "\(row.value) (\(row.source.rawValue))") }

        checkDataDirectory(settings.dataDirectory.value, into: &report)
        checkKeys(settings, into: &report)
        let models = modelPaths(settings)
        for path in models.paths { checkModel(path, pinned: path == models.pinned, into: &report) }

        print(report.rendered, terminator: "")
        if report.failures > 0 {
            throw ValidationError("\(report.failures) problem(s) found; see the lines marked FAIL above.")
        }
    }

    /// Every model file `serve` would load with these settings, and which of them is the pinned default.
    private func modelPaths(_ settings: Settings) -> (paths: [String], pinned: String?) {
        let paths = LocalModel.providers(settings).map(\.path)
        guard settings.routing != nil else { return (paths, settings.modelOverride == nil ? paths.first : nil) }
        return (Array(Set(paths)).sorted(), paths.first { $0.hasSuffix("/" + DefaultModel.fileName) })
    }

    /// The master keys load and, when a database exists, open it (its key check value matches).
    private func checkKeys(_ settings: Settings, into report: inout DoctorReport) {
        let database = settings.database.value
        if let path = settings.keyFilePath, !FileManager.default.fileExists(atPath: path) {
            if FileManager.default.fileExists(atPath: database) {
                report.fail(
                    "keys", "\(path) is missing but \(database) exists: restore the key file; serve will not start")
            } else {
                report.info("keys", "\(path) (not created yet; the first `enclave serve` creates it, mode 0600)")
            }
            return
        }
        let ring: KeyRing
        do { ring = try KeyRing.load(settings.keySource.value) } catch {
            report.fail("keys", "\(error)")
            return
        }
        guard FileManager.default.fileExists(atPath: database) else {
            report.info("keys", "versions \(ring.versions.map(String.init).joined(separator: ",")); no database yet")
            return
        }
        do {
            _ = try Store(path: database, keyRing: ring)
            report.info("keys", "versions \(ring.versions.map(String.init).joined(separator: ",")) open \(database)")
        } catch {
            report.fail("keys", "\(database) does not open with these keys: \(error)")
        }
    }

    private func checkDataDirectory(_ path: String, into report: inout DoctorReport) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            report.info("data.dir", "\(path) (not created yet; `enclave serve` creates it with mode 0700)")
            return
        }
        guard isDirectory.boolValue else {
            report.fail("data.dir", "\(path) is not a directory; move it away or pass --data-dir")
            return
        }
        if let problem = DataDirectoryCheck.problem(path) {
            report.fail("data.dir", problem)
        } else {
            report.info("data.dir", "\(path) (mode 0700 or tighter, owned by this user)")
        }
    }

    private func checkModel(_ path: String, pinned: Bool, into report: inout DoctorReport) {
        // A model installed as a symbolic link is judged by the file it names, not by the link.
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path))
            .map { URL(fileURLWithPath: $0, relativeTo: URL(fileURLWithPath: path).deletingLastPathComponent()).path }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: target ?? path),
            let size = (attributes[.size] as? NSNumber)?.int64Value
        else {
            report.fail("model", "\(path) is missing; run `make model` (or deploy/fetch-model.sh) to install it")
            return
        }
        let digest: String
        do {
            digest = try SHA256.hash(fileAtPath: path).hexString
        } catch {
            report.fail("model", "\(path) cannot be read (\(error)); check its permissions")
            return
        }
        report.info("model.file", "\(path) (\(size) bytes)")
        report.info("model.sha256", digest)
        // `enclave model verify`'s check (architecture, tensor types, tokenizer, template), then a load as
        // `serve` does it.
        do {
            let verification = try ModelVerification.verify(path: path)
            for refusal in verification.refusals { report.fail("model.verify", "\(path): \(refusal)") }
            guard verification.isServable else { return }
        } catch {
            report.fail("model.load", "\(path) cannot be served: \(error)")
            return
        }
        do {
            let engine = try InferenceEngine(modelPath: path, contextLength: 64, threads: 1, cachePoolBytes: 0)
            report.info(
                "model.load", "\(engine.config.architecture), trained context \(engine.config.trainedContextLength)")
        } catch {
            report.fail("model.load", "\(path) cannot be served: \(error)")
        }
        guard pinned else { return }
        if digest == DefaultModel.sha256 && size == DefaultModel.size {
            report.info("model.pin", "matches the pinned SHA-256")
        } else {
            report.fail(
                "model.pin",
                "SHA-256 differs from the pinned \(DefaultModel.sha256): the file is altered or incomplete; "
                    + "delete it and run `make model`"
            )
        }
    }
}

/// The doctor's findings, one aligned line each: `ok`, `WARN` or `FAIL`, a key and a detail.
struct DoctorReport {
    private(set) var lines: [String] = []
    private(set) var failures = 0

    mutating func info(_ key: String, _ detail: String) { add("ok  ", key, detail) }
    mutating func warn(_ key: String, _ detail: String) { add("WARN", key, detail) }
    mutating func fail(_ key: String, _ detail: String) {
        failures += 1
        add("FAIL", key, detail)
    }

    private mutating func add(_ status: String, _ key: String, _ detail: String) {
        let padded = key.padding(toLength: max(key.count, 17), withPad: " ", startingAt: 0)
        lines.append("\(status) \(padded) \(detail)")
    }

    var rendered: String { lines.map { $0 + "\n" }.joined() }
}
