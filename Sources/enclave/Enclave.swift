// The `enclave` command: one executable for the server, its clients and its operators.
// Each subcommand lives in its own file; this root only lists them.
import ArgumentParser

@main
struct Enclave: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enclave",
        abstract: "A privacy-first chat server with an in-process language model.",
        version: EnclaveVersion.current,
        subcommands: [
            Doctor.self, ServeCommand.self, ChatCommand.self, UsersCommand.self, ModelCommand.self, KeysCommand.self,
            PolicyCommand.self, AuditCommand.self, ConfigCommand.self, Bench.self,
            EvalCommand.self, CanaryCommand.self, StatusCommand.self,
            HoldCommand.self, RetentionCommand.self, BackupCommand.self, RestoreCommand.self,
        ]
    )
}

/// The release this binary was built from.
enum EnclaveVersion {
    static let current = "0.1.0"
}
