// `enclave model list`: the local models the configuration serves, one line per `kind: local` provider
// (resolved as `serve` and `doctor` resolve them): the file, whether it is there, what it holds and
// whether this engine can serve it. The facts are `ModelVerification`'s, the same check `model verify`,
// `doctor` and `serve` make; it reads the GGUF header and tensor table, never the weights, so listing
// stays instant with multi-gigabyte files. Hashing reads every byte and is left to `--sha256`.
import ArgumentParser
import EnclaveCrypto
import Foundation
import GGUF
import Inference

extension ModelCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the configured local models and whether each can be served.",
            discussion: """
                One line per `kind: local` provider of the configuration (with no configuration file, the \
                pinned model as `local`), after a header, in columns separated by two or more spaces:

                  PROVIDER  PATH  PRESENT  SIZE  ARCH  TYPES  PARAMS  CONTEXT  [SHA256]  STATUS

                PRESENT is yes or no; SIZE is in B, MiB or GiB; TYPES are the tensor types, most bytes first; PARAMS \
                the weights' element count; CONTEXT the trained context; `-` where unknown. STATUS is `ok`, \
                `missing`, or `unsupported: <reasons>`, each reason naming what is unsupported with its code \
                in brackets. Exit status 0 when every model is ok; otherwise 1, with `model-not-servable` \
                and the providers concerned on standard error.
                """)

        @OptionGroup var options: ConfigOptions
        @Flag(help: "Add each file's SHA-256 (reads every byte of every file).") var sha256 = false

        func run() throws {
            let providers = LocalModel.providers(try options.resolve())
            var verdicts: [String: ModelListing] = [:]
            var rows = [["PROVIDER", "PATH", "PRESENT", "SIZE", "ARCH", "TYPES", "PARAMS", "CONTEXT"]]
            if sha256 { rows[0].append("SHA256") }
            rows[0].append("STATUS")
            for (name, path) in providers {
                // Two providers naming one file are served by one engine: look at the file once.
                let listing = verdicts[path] ?? ModelListing(path: path, hashing: sha256)
                verdicts[path] = listing
                rows.append([name, path] + listing.cells(sha256: sha256))
            }
            print(TextTable.render(rows), terminator: "")
            if providers.isEmpty {
                FileHandle.standardError.write(Data("no local models are configured\n".utf8))
            }
            let failed = providers.filter { verdicts[$0.path]?.status != "ok" }
            guard failed.isEmpty else {
                let named = failed.map { "\($0.name) (\(verdicts[$0.path]?.status.prefix { $0 != ":" } ?? ""))" }
                throw CLIError(
                    "model-not-servable: \(failed.count) of \(providers.count) local model(s) cannot be served: "
                        + named.joined(separator: ", ")
                        + "; `enclave model verify FILE` explains a file, `make model` installs the default one")
            }
        }
    }
}

/// What `model list` says about one model file.
struct ModelListing {
    /// The file's size in bytes, when it is there.
    var size: Int?
    var report: ModelVerification?
    var digest: String?
    /// `ok`, `missing` or `unsupported: <reasons>`.
    var status: String

    init(path: String, hashing: Bool) {
        // stat, not lstat: a model installed as a symbolic link is judged by the file it names.
        var info = stat()
        guard stat(path, &info) == 0 else {
            status = "missing"
            return
        }
        size = Int(info.st_size)
        digest = hashing ? (try? SHA256.hash(fileAtPath: path))?.hexString : nil
        do {
            let report = try ModelVerification.verify(path: path)
            self.report = report
            status =
                report.isServable
                ? "ok" : "unsupported: " + report.refusals.map(\.description).joined(separator: "; ")
        } catch {
            status = "unsupported: not a readable GGUF file: \(error) [\(error.code)]"
        }
    }

    /// The columns after provider and path.
    func cells(sha256: Bool) -> [String] {
        let types = report.map { $0.tensorTypes.map(\.type.description).joined(separator: ",") }
        var cells = [
            size == nil ? "no" : "yes",
            size.map(Self.size) ?? "-",
            report?.architecture ?? "-",
            types.flatMap { $0.isEmpty ? nil : $0 } ?? "-",
            report.map { Self.count($0.parameterCount) } ?? "-",
            report?.config.map { String($0.trainedContextLength) } ?? "-",
        ]
        if sha256 { cells.append(digest ?? "-") }
        cells.append(status)
        return cells
    }

    /// A file size: bytes below 1 MiB (a file that small is no model), else MiB or GiB.
    static func size(_ bytes: Int) -> String {
        switch bytes {
        case ..<(1 << 20): "\(bytes)B"
        case ..<(1 << 30): String(format: "%.1fMiB", Double(bytes) / Double(1 << 20))
        default: String(format: "%.2fGiB", Double(bytes) / Double(1 << 30))
        }
    }

    /// A parameter count as models are named: 134.5M, 7.24B.
    static func count(_ n: Int) -> String {
        n >= 1_000_000_000
            ? String(format: "%.2fB", Double(n) / 1e9) : String(format: "%.1fM", Double(n) / 1e6)
    }
}
