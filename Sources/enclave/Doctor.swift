// `enclave doctor`: checks that this machine can run Enclave, and says how to fix what is not.
import ArgumentParser
import EnclaveCrypto
import Foundation
import Inference
import Storage

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the libraries, CPU, data directory and default model; exit non-zero on any problem."
    )

    @Option(help: "The data directory (default: $ENCLAVE_DATA_DIR or ./data).")
    var dataDir: String?

    @Option(help: "The model file to check (default: the pinned SmolLM2 under ./models).")
    var model: String?

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
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

        checkDataDirectory(dataDir ?? environment["ENCLAVE_DATA_DIR"] ?? "data", into: &report)
        checkModel(model ?? DefaultModel.path(environment: environment), pinned: model == nil, into: &report)

        print(report.rendered, terminator: "")
        if report.failures > 0 {
            throw ValidationError("\(report.failures) problem(s) found; see the lines marked FAIL above.")
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
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = (attributes[.posixPermissions] as? NSNumber)?.uint16Value,
            let owner = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value
        else {
            report.fail("data.dir", "\(path) cannot be inspected; check that this user may read it")
            return
        }
        let modeText = String(mode & 0o777, radix: 8)
        if owner != getuid() {
            report.fail("data.dir", "\(path) is owned by uid \(owner), not by this user (uid \(getuid())); chown it")
        } else if mode & 0o077 != 0 {
            report.fail("data.dir", "\(path) has mode 0\(modeText); others can read it: chmod 700 \(path)")
        } else {
            report.info("data.dir", "\(path) (mode 0\(modeText), owned by this user)")
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
