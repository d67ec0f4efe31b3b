// `enclave doctor` and `enclave --version`, run as a user runs them. The library versions are
// checked against independent sources: the sqlite3 and openssl command-line tools and dpkg.
import Foundation
import Testing

@Suite struct DoctorTests {
    /// Runs a shell command and returns its standard output (the independent oracle).
    private func shell(_ command: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The value doctor printed for `key` (the text after the key on its line).
    private func field(_ key: String, in output: String) -> String? {
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            if words.count == 3, words[1] == key { return words[2].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    private func pinnedModel() throws -> [String: String] {
        let text = try String(
            contentsOf: EnclaveBinary.packageRoot.appendingPathComponent("deploy/default-model.env"), encoding: .utf8)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }

    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("enclave-doctor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func versionFlagPrintsTheRelease() throws {
        let result = try EnclaveBinary.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.range(of: #"^\d+\.\d+\.\d+\n$"#, options: .regularExpression) != nil)
    }

    @Test func reportsTheLinkedLibraryVersions() throws {
        let result = try EnclaveBinary.run(["doctor"])
        #expect(result.status == 0, "doctor failed: \(result.stdout)\(result.stderr)")

        let sqliteTool = try shell("sqlite3 --version").split(separator: " ").first.map(String.init)
        #expect(field("sqlite", in: result.stdout) == sqliteTool)

        // `openssl version` prints e.g. "OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 27 Jan 2026)".
        let opensslTool = try shell("openssl version").split(separator: " ").prefix(2).joined(separator: " ")
        let reported = try #require(field("openssl", in: result.stdout))
        #expect(reported.hasPrefix(opensslTool + " "), "doctor said \(reported), openssl says \(opensslTool)")

        // Debian versions look like 0.3.21+ds-4; the upstream part must match what OpenBLAS reports.
        let package = try shell("dpkg-query -W -f='${Version}' libopenblas-dev")
        let upstream = package.split(whereSeparator: { $0 == "+" || $0 == "-" }).first.map(String.init)
        #expect(field("openblas", in: result.stdout) == upstream)

        let threads = try #require(field("openblas.threads", in: result.stdout).flatMap { Int($0) })
        #expect(threads >= 1)
        let simd = try #require(field("cpu.simd", in: result.stdout))
        let cpuFlags = try shell("grep -m1 -o -w avx2 /proc/cpuinfo || true")
        #expect(simd.contains("AVX2") == (cpuFlags == "avx2"))
    }

    @Test func theShippedModelMatchesBothPins() throws {
        let pins = try pinnedModel()
        let result = try EnclaveBinary.run(["doctor"])
        #expect(result.status == 0)
        #expect(field("model.sha256", in: result.stdout) == pins["MODEL_SHA256"])
        #expect(field("model.pin", in: result.stdout)?.contains("matches") == true)
    }

    @Test func failsWhenTheModelIsMissing() throws {
        let empty = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        // Run where no configuration file names a model, so the pinned default (ENCLAVE_MODEL_DIR) is checked.
        let result = try EnclaveBinary.run(["doctor"], environment: ["ENCLAVE_MODEL_DIR": empty.path], in: empty)
        #expect(result.status != 0)
        let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("FAIL model") })
        #expect(line.contains("missing") && line.contains("make model"))
    }

    @Test func failsWhenTheModelIsAltered() throws {
        let pins = try pinnedModel()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = EnclaveBinary.packageRoot.appendingPathComponent("models/\(try #require(pins["MODEL_FILE"]))")
        let copy = directory.appendingPathComponent(try #require(pins["MODEL_FILE"]))
        var bytes = try Data(contentsOf: original)
        bytes[bytes.count / 2] ^= 0x01  // one bit, in the middle of the weights
        try bytes.write(to: copy)

        let result = try EnclaveBinary.run(
            ["doctor"], environment: ["ENCLAVE_MODEL_DIR": directory.path], in: directory)
        #expect(result.status != 0)
        let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("FAIL model.pin") })
        #expect(line.contains("altered"))
    }

    @Test func failsOnADataDirectoryOthersCanRead() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        let open = try EnclaveBinary.run(["doctor", "--data-dir", directory.path])
        #expect(open.status != 0)
        #expect(open.stdout.contains("chmod 700"))

        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
        let closed = try EnclaveBinary.run(["doctor", "--data-dir", directory.path])
        #expect(closed.status == 0, "\(closed.stdout)")
    }
}
