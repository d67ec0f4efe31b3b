// `enclave audit verify|pubkey|search|export|report`: the compliance officer's and the auditor's tools
// over the audit directory (DESIGN.md §6). `verify` with the master key checks every record's MAC,
// the chain and the signed checkpoints; `verify --pubkey F` is the offline check for an auditor who
// holds no secret. `search`, `export` and `report` read the records (which hold no message text).
// The audit keys derive from the audit root key (`<dir>/root.key`, sealed under a master-key version and
// re-wrapped on rotation): HKDF-SHA256 with distinct infos for the record MAC and the signing key.
import ArgumentParser
import Audit
import EnclaveCrypto
import Foundation

/// Where the audit files and the master key are; shared by the audit subcommands.
struct AuditOptions: ParsableArguments {
    @Option(help: "The audit directory (default: $ENCLAVE_AUDIT_DIR, else server.audit_dir, else <data dir>/audit).")
    var dir: String?

    @OptionGroup var masterKey: MasterKeyOptions

    /// Every setting, with this command's `--dir`.
    func settings() throws -> Settings {
        var flags = masterKey.flags
        flags.auditDirectory = dir
        return try Settings.resolve(flags)
    }

    /// The audit directory in force. A configuration that cannot be read leaves only `--dir` (the offline
    /// check of a copied log needs no configuration at all).
    var directory: String {
        (try? settings().auditDirectory.value) ?? dir ?? "data/audit"
    }

    /// The audit keys, from the root key opened with the master key (see `AuditMasterKey`).
    func secrets() throws -> AuditSecrets {
        let settings = try settings()
        return try AuditMasterKey.secrets(from: settings.keySource.value, directory: settings.auditDirectory.value)
    }

    /// Fails with a clear message unless the audit directory exists.
    func requireDirectory() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("no audit directory at \(directory); pass --dir")
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify, search, export and report on the tamper-evident audit log.",
        subcommands: [
            AuditVerify.self, AuditPubkey.self, AuditSearch.self, AuditExport.self, AuditReportCommand.self,
            AuditPruneCommand.self,
        ]
    )
}

struct AuditVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the chain, MACs and signed checkpoints; name the first bad record. Exit 1 if any.",
        discussion: """
            With --pubkey only the public key is used (offline check: chain and signed checkpoints).

            Always detected: any changed, inserted, deleted or reordered record inside the log (chain; with \
            the master key also every record's MAC, the unsigned tail included); a torn last line; a log \
            shorter than the newest checkpoint in checkpoints.jsonl; a forged or edited checkpoint.

            After `audit prune`, the log starts at a signed prune mark (prunes.jsonl): a prefix cut without \
            the signing key, or a removed or edited mark, is detected like any deletion.

            Not detected from the audit directory alone: the log's tail cut off together with the \
            checkpoints that covered it, removed checkpoints, or the whole directory replaced by an older \
            copy, since whoever can rewrite the directory can make the two files agree.

            Detected with --checkpoints <outside copy> (what serve's audit.checkpoint_command appended \
            elsewhere, e.g. `tee -a` on another volume): every checkpoint in the copy must also be in \
            checkpoints.jsonl (removed checkpoints, a rolled-back directory), and the log must reach and \
            match the newest one (tail truncation, a rolled-back log that grew again). Still not \
            detected: records removed after the newest checkpoint that reached the copy (at most one \
            checkpoint interval: audit.checkpoint_every_records / checkpoint_every_seconds).
            """)

    @OptionGroup var options: AuditOptions

    @Option(help: "A public key file from `enclave audit pubkey`: verify offline, without the master key.")
    var pubkey: String?

    @Option(help: "An outside copy of the checkpoints (from audit.checkpoint_command) to check the directory against.")
    var checkpoints: String?

    func run() throws {
        try options.requireDirectory()
        let report: AuditVerificationReport
        do {
            if let pubkey {
                let text = try String(contentsOfFile: pubkey, encoding: .utf8)
                let publicKey = try AuditSigningKey.importPublicKey(text: text)
                report = try AuditVerifier.verify(
                    directory: options.directory, macKey: nil, publicKey: publicKey, checkpointsPath: checkpoints)
            } else {
                let secrets = try options.secrets()
                report = try AuditVerifier.verify(
                    directory: options.directory, macKey: secrets.mac, publicKey: secrets.signer.publicKey,
                    checkpointsPath: checkpoints)
            }
        } catch let error as AuditError {
            throw CLIError(error.description)
        }
        let mode = report.macChecked ? "full (MACs, chain, checkpoints)" : "offline (chain, signed checkpoints)"
        print("records: \(report.recordsVerified)")
        print("checkpoints: \(report.checkpoints) (latest covers \(report.latestCheckpoint))")
        if report.prunedThrough > 0 { print("pruned: records 1-\(report.prunedThrough) (signed prune mark)") }
        print("check: \(mode)")
        if let failure = report.failure {
            print("FAIL \(failure)")
            throw ExitCode(1)
        }
        print("OK audit log verifies")
    }
}

struct AuditPubkey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pubkey", abstract: "Print (or write) the checkpoint signing key's public key for offline checks.")

    @OptionGroup var options: AuditOptions

    @Option(help: "Write the key to this file instead of standard output.")
    var out: String?

    func run() throws {
        let text: String
        do {
            text = AuditSigningKey.exportPublicKey(try options.secrets().signer) + "\n"
        } catch let error as AuditError {
            throw CLIError(error.description)
        }
        if let out {
            try text.write(toFile: out, atomically: true, encoding: .utf8)
        } else {
            print(text, terminator: "")
        }
    }
}

struct AuditSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find records: from= to= user= action= provider= model= decision= tag= arm= limit=",
        discussion:
            "Times are YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC); `to` is exclusive; action=auth. matches a prefix.")

    @OptionGroup var options: AuditOptions

    @Flag(help: "Print the matching records as JSON lines instead of a table.")
    var json = false

    @Argument(help: "Filters, key=value.")
    var filters: [String] = []

    func run() throws {
        try options.requireDirectory()
        let query = try AuditCommandSupport.query(filters)
        let records = try AuditReader.search(directory: options.directory, query: query)
        if json {
            for record in records { print(String(decoding: record.line, as: UTF8.self)) }
        } else {
            print(TextTable.render([AuditReader.rowHeader] + records.map(AuditReader.row)), terminator: "")
        }
    }
}

struct AuditExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export records (optionally filtered) as JSON lines or CSV for a SIEM.")

    @OptionGroup var options: AuditOptions

    @Option(help: "jsonl (verbatim records, MACs included) or csv.")
    var format: String = "jsonl"

    @Option(help: "Write to this file instead of standard output.")
    var out: String?

    @Argument(help: "Filters, key=value (as for search).")
    var filters: [String] = []

    func run() throws {
        try options.requireDirectory()
        guard let exportFormat = AuditExportFormat(rawValue: format) else {
            throw ValidationError("--format must be jsonl or csv")
        }
        let query = try AuditCommandSupport.query(filters)
        let handle: FileHandle
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: nil, attributes: [.posixPermissions: 0o600]),
                let opened = FileHandle(forWritingAtPath: out)
            else { throw ValidationError("cannot write \(out)") }
            handle = opened
        } else {
            handle = FileHandle.standardOutput
        }
        var buffer: [UInt8] = []
        try AuditExporter.export(directory: options.directory, query: query, format: exportFormat) { bytes in
            buffer += bytes
            if buffer.count > 1 << 16 {
                try handle.write(contentsOf: buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try handle.write(contentsOf: buffer)
        if out != nil { try handle.close() }
    }
}

struct AuditReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "Calls, tokens, cost, blocked decisions, canary arms and error rate per provider, model, prompt and user.")

    @OptionGroup var options: AuditOptions

    @Option(help: "Only this grouping: provider, model, prompt or user (default: all four).")
    var by: String?

    @Argument(help: "Filters, key=value (as for search), e.g. from=2026-11-01.")
    var filters: [String] = []

    func run() throws {
        try options.requireDirectory()
        let dimensions: [AuditReportDimension]
        if let by {
            guard let dimension = AuditReportDimension(rawValue: by) else {
                throw ValidationError("--by must be provider, model, prompt or user")
            }
            dimensions = [dimension]
        } else {
            dimensions = AuditReportDimension.allCases
        }
        let report = try AuditReport.compute(directory: options.directory, query: AuditCommandSupport.query(filters))
        let rows = dimensions.flatMap { report.rows(by: $0) }
        print(TextTable.render([AuditReport.header] + rows), terminator: "")
    }
}

enum AuditCommandSupport {
    static func query(_ filters: [String]) throws -> AuditQuery {
        do { return try AuditQuery(words: filters) } catch { throw ValidationError(error.description) }
    }
}
