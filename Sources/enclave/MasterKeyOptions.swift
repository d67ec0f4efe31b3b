// Where a command finds the data directory and the master keys: the options every command that needs
// the master key shares (`keys`, `audit`, `bench store`), with the same defaults `serve` uses.
import ArgumentParser
import Foundation
import Storage

struct MasterKeyOptions: ParsableArguments {
    @Option(help: "The data directory (default: $ENCLAVE_DATA_DIR or ./data).")
    var dataDir: String?

    @Option(help: "The master key file, mode 0600 or 0400 (default: $ENCLAVE_KEY_FILE or <data dir>/master.key).")
    var keyFile: String?

    @Option(help: "Read the master keys from this environment variable instead of a file.")
    var keyEnv: String?

    @Option(help: "Run this command (split on spaces) and read the master keys from its output.")
    var keyCommand: String?

    /// The data directory `serve` uses: --data-dir, $ENCLAVE_DATA_DIR, or ./data.
    var dataDirectory: String { dataDir ?? ProcessInfo.processInfo.environment["ENCLAVE_DATA_DIR"] ?? "data" }

    var keyFilePath: String {
        keyFile ?? ProcessInfo.processInfo.environment["ENCLAVE_KEY_FILE"]
            ?? ServerAssembly.masterKeyPath(dataDirectory)
    }

    var keySource: KeySource {
        if let keyEnv { return .environment(keyEnv) }
        if let keyCommand { return .command(keyCommand.split(separator: " ").map(String.init)) }
        return .file(keyFilePath)
    }
}
