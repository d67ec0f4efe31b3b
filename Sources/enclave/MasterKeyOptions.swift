// Where a command finds the configuration, the data directory and the master keys: the options every
// command that needs the master key shares (`keys`, `audit`, `bench store`). They resolve through the one
// configuration (Settings.swift), so each of them finds the same files `serve` uses.
import ArgumentParser
import Foundation
import Storage

struct MasterKeyOptions: ParsableArguments {
    @OptionGroup var options: ConfigOptions

    @Option(
        help:
            "The master key file, mode 0600 or 0400 (default: $ENCLAVE_KEY_FILE, else keys.file, else <data dir>/master.key)."
    )
    var keyFile: String?

    @Option(help: "Read the master keys from this environment variable instead of a file.")
    var keyEnv: String?

    @Option(help: "Run this command (split on spaces) and read the master keys from its output.")
    var keyCommand: String?

    /// The flags given, for `Settings.resolve`.
    var flags: SettingFlags {
        var flags = options.flags
        flags.keyFile = keyFile
        flags.keyEnvironment = keyEnv
        flags.keyCommand = keyCommand
        return flags
    }

    /// Every setting, resolved as `serve` resolves them.
    func settings() throws -> Settings { try Settings.resolve(flags) }
}
