// Runs the built `enclave` executable as a separate process, the way an operator would.
import Foundation

/// A finished run of the `enclave` executable.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

enum EnclaveBinary {
    /// The `enclave` executable beside the test bundle in the build directory.
    static var url: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // On Linux the tests run from `<build>/debug/<Package>PackageTests.xctest`.
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("enclave")
    }

    /// The package's root directory (where Package.swift is).
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// Runs `enclave` with `arguments`, optional standard input and extra environment, in `directory`.
    static func run(
        _ arguments: [String],
        stdin: String? = nil,
        environment: [String: String] = [:],
        in directory: URL? = nil
    ) throws -> CommandResult {
        try runProgram(url, arguments, stdin: stdin.map { Data($0.utf8) }, environment: environment, in: directory)
    }

    /// Runs any program the same way (`make`, `systemd-analyze`, the test venv's Python).
    static func runProgram(
        _ executable: URL, _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
        in directory: URL? = nil
    ) throws -> CommandResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? packageRoot
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self)
        )
    }
}
