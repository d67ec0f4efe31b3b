// `enclave policy explain`: which detectors fire where in a text, the tags that result and the rule
// that decides. As text for a person, as JSON (`--json`) for a script, or in batch mode (`--batch`:
// one message per input line, one JSON result per output line) so an organisation can measure the
// detectors on a corpus of its own. Results carry spans, detectors, tags and rules, never the text.
import ArgumentParser
import Foundation
import Policy

/// One explained message, as `--json` and `--batch` print it.
struct ExplainResult: Encodable {
    struct Hit: Encodable {
        var detector: String
        /// UTF-8 byte offsets into the message.
        var start: Int
        var end: Int
        var line: Int
        var column: Int
        var confidence: Double
        var tags: [String]
    }

    /// The input line (batch mode only).
    var input: Int?
    var hits: [Hit]
    var detectorsFailed: Bool
    var defaults: [String]
    var tags: [String]
    var allowed: [String]
    var denied: [String: String]
    var rule: String
    var reason: String
    var provider: String?
    var providerAllowed: Bool?
}

struct PolicyExplain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show which detectors fire where in a text, the tags that result and the deciding rule.",
        discussion: """
            --batch FILE reads one message per line (a line that is a JSON string, in quotes, may hold \
            line breaks as \\n) and prints one JSON result per line; `-` reads standard input.
            """)

    @Option(name: .customLong("text-file"), help: "The text to examine (treated as one message).")
    var textFile: String?
    @Option(help: "A file of messages, one per line ('-' for standard input); prints one JSON line each.")
    var batch: String?
    @Flag(help: "Print the result as JSON.") var json = false
    @Option(help: "The user asking.") var user = "anonymous"
    @Option(help: "Comma-separated groups of the user.") var groups = ""
    @Option(help: "The provider requested.") var provider: String?
    @OptionGroup var location: PolicyLocation

    func validate() throws {
        guard (textFile == nil) != (batch == nil) else { throw ValidationError("give either --text-file or --batch") }
    }

    func run() async throws {
        let providers = try location.providers(fromConfiguration: false) ?? ProviderDescriptor.baseline
        let policy = try loadPolicy(try location.policies, providers: providers)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let batch {
            let data =
                batch == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: batch)
            guard let data else { throw ValidationError("cannot read \(batch)") }
            for (index, line) in String(decoding: data, as: UTF8.self).split(
                separator: "\n", omittingEmptySubsequences: false
            )
            .enumerated() where !line.isEmpty {
                var result = explain(Self.message(String(line)), policy: policy, providers: providers)
                result.input = index + 1
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            }
            return
        }
        guard let textFile, let data = FileManager.default.contents(atPath: textFile) else {
            throw ValidationError("cannot read \(textFile ?? "-")")
        }
        let result = explain(String(decoding: data, as: UTF8.self), policy: policy, providers: providers)
        if json {
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            printText(result, file: textFile)
        }
    }

    /// A batch line: a JSON string literal when quoted (so a message may hold line breaks), else itself.
    static func message(_ line: String) -> String {
        guard line.hasPrefix("\""), let data = line.data(using: .utf8),
            let text = try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) as? String
        else { return line }
        return text
    }

    func explain(_ text: String, policy: PolicySet, providers: [ProviderDescriptor]) -> ExplainResult {
        let groupList = groups.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) }
        let detection = try? policy.detect(text)
        let lineStarts = [0] + text.utf8.enumerated().filter { $0.element == 0x0A }.map { $0.offset + 1 }
        let hits = (detection?.hits ?? []).map { hit in
            let line = lineStarts.lastIndex { $0 <= hit.range.lowerBound } ?? 0
            return ExplainResult.Hit(
                detector: hit.detector, start: hit.range.lowerBound, end: hit.range.upperBound, line: line + 1,
                column: hit.range.lowerBound - lineStarts[line] + 1, confidence: hit.confidence,
                tags: policy.detectorTags[hit.detector]?.sorted() ?? [])
        }
        let tags = ConversationTags.accumulate(
            existing: [], detection: detection, policy: policy, user: user, groups: groupList)
        let decision = evaluate(
            policy,
            DecisionRequest(
                tags: tags, user: user, groups: groupList, requestedProvider: provider, providers: providers,
                detectorCounts: detection?.countsByDetector ?? [:], detectionFailed: detection == nil))
        return ExplainResult(
            hits: hits, detectorsFailed: detection == nil,
            defaults: policy.defaultTags(user: user, groups: groupList).sorted(), tags: tags.sorted(),
            allowed: decision.allowed, denied: decision.denied, rule: decision.rule, reason: decision.reason,
            provider: provider, providerAllowed: provider.map { decision.allows($0) })
    }

    func printText(_ result: ExplainResult, file: String) {
        if result.detectorsFailed { print("detectors failed; the decision fails closed") }
        for hit in result.hits {
            let tags = hit.tags.isEmpty ? "-" : hit.tags.joined(separator: ",")
            print(
                "\(file):\(hit.line):\(hit.column): \(hit.detector) (\(hit.end - hit.start) bytes, confidence "
                    + "\(String(format: "%.2f", hit.confidence))) -> tags \(tags)")
        }
        if !result.defaults.isEmpty { print("defaults for \(user): \(result.defaults.joined(separator: ", "))") }
        print("tags: \(result.tags.isEmpty ? "(none)" : result.tags.joined(separator: ", "))")
        print("allowed: \(result.allowed.isEmpty ? "(none)" : result.allowed.joined(separator: ", "))")
        for (name, rule) in result.denied.sorted(by: { $0.key < $1.key }) { print("denied: \(name) by \(rule)") }
        print("rule: \(result.rule)")
        print("reason: \(result.reason)")
        if let provider, let allowed = result.providerAllowed {
            print("\(provider): \(allowed ? "allowed" : "denied")")
        }
    }
}
